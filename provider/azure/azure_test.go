package azure

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const image = "myregistry.azurecr.io/hello:1"

// baseURL is the emulator of the test that called setup last.
var baseURL string

func setup(t *testing.T, token string, eo emu.Options) (*Backend, *emu.Server) {
	t.Helper()
	s := emu.New(eo)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	baseURL = ts.URL
	co := ClientOptions{SubscriptionID: emu.DefaultSubscription, Endpoint: ts.URL, Credential: StaticToken(token)}
	c, tags, err := NewClients(co)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := NewMetricsClient(co)
	if err != nil {
		t.Fatal(err)
	}
	return New(c, tags, Options{AppEndpoint: ts.URL + "/_apps/{app}", ResourceGroup: "rg-functions", Location: emu.DefaultLocation,
		SubscriptionID: emu.DefaultSubscription, Metrics: metrics,
		ServerFarmID:      "/subscriptions/" + emu.DefaultSubscription + "/resourceGroups/rg-functions/providers/Microsoft.Web/serverfarms/plan",
		StorageConnection: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=secret"}), s
}

func function(t *testing.T, img string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: "uid-1", Labels: map[string]string{"app.kubernetes.io/name": "hello"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: img, Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}}},
	}
	if mutate != nil {
		mutate(pod)
	}
	fn, err := translate.FromPod(pod, "vk-azure", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func waitPhase(t *testing.T, b *Backend, name string, want translate.Phase) *translate.FunctionState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Phase == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %s: %+v", name, want, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeployFollowsTheLongRunningOperation(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{ProvisionDelay: 300 * time.Millisecond})
	ctx := context.Background()
	fn := function(t, image, nil)
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhasePending {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	active := waitPhase(t, b, fn.Name, translate.PhaseActive)
	if active.ImageID != "DOCKER|"+image || active.Tags[translate.TagPodUID] != "uid-1" || active.Tags["app.kubernetes.io/name"] != "hello" {
		t.Errorf("active state = %+v", active)
	}
	if s.Calls()["GetOperation"] == 0 {
		t.Error("the poller never followed Azure-AsyncOperation")
	}
	// The app is read twice: the adoption check before the PUT, and by the
	// poller once the deployment finished (its result gives the state).
	if gets := s.Calls()["Get"]; gets != 2 {
		t.Errorf("%d reads of the app from deploy to Active, want 2", gets)
	}
	// A retried deploy (or a restart) adopts the app without a new PUT.
	puts := s.Calls()["CreateOrUpdate"]
	again, err := b.Deploy(ctx, fn)
	if err != nil || again.Phase != translate.PhaseActive || s.Calls()["CreateOrUpdate"] != puts {
		t.Errorf("retried deploy: %+v %v, PUTs %d → %d", again, err, puts, s.Calls()["CreateOrUpdate"])
	}
	listed, err := b.List(ctx, "vk-azure")
	if err != nil || len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List = %+v %v", listed, err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := b.Get(ctx, fn.Name); !errdefs.IsNotFound(err) {
		t.Errorf("Get after delete: %v", err)
	}
}

// A deployment the RP finishes within the PUT (200, provisioningState
// Succeeded) is Active at once: one read (the adoption check), one PUT, no
// polling, and one read of the host keys, which says the app's Functions
// host answers; the pod's lifetime is then four calls with the DELETE.
func TestFastDeploymentIsDoneWithinThePUT(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, nil)
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhaseActive || st.Tags[translate.TagPodUID] != "uid-1" || st.ImageID != "DOCKER|"+image {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Get": 1, "CreateOrUpdate": 1, "ListHostKeys": 1, "Delete": 1}
	for op, n := range s.Calls() {
		if want[op] != n {
			t.Errorf("%d %s calls, want %d (all calls: %v)", n, op, want[op], s.Calls())
		}
	}
}

func TestFailedDeploymentReportsARMError(t *testing.T) {
	b, _ := setup(t, emu.DefaultToken, emu.Options{})
	fn := function(t, "myregistry.azurecr.io/hello:fail-create", nil)
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, b, fn.Name, translate.PhaseFailed)
	if st.Reason != provider.ReasonImageError || !strings.Contains(st.Message, "ImagePullFailure: Image pull failed for myregistry.azurecr.io/hello:fail-create") {
		t.Errorf("failed state = %+v", st)
	}
}

func TestWrongTokenFailsPingWithoutShowingIt(t *testing.T) {
	good, _ := setup(t, emu.DefaultToken, emu.Options{})
	if err := good.Ping(context.Background()); err != nil {
		t.Errorf("ping: %v", err)
	}
	bad, _ := setup(t, "not-the-token", emu.Options{})
	err := bad.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InvalidAuthenticationToken") || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("ping with a wrong token: %v", err)
	}
}

func TestSiteCarriesTheFunctionsHostSettings(t *testing.T) {
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		p.Spec.Containers[0].Command = []string{"/app/server"}
	})
	site, err := siteFor(fn, &Options{Location: "westeurope", ServerFarmID: "/plan", StorageConnection: "conn",
		RegistryServer: "faaskubelet.azurecr.io", RegistryUsername: "puller", RegistryPassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range site.Properties.SiteConfig.AppSettings {
		got[*kv.Name] = *kv.Value
	}
	for k, want := range map[string]string{"GREETING": "hi", "FUNCTIONS_EXTENSION_VERSION": "~4", "WEBSITES_ENABLE_APP_SERVICE_STORAGE": "false", "AzureWebJobsStorage": "conn", "WEBSITES_PORT": "8080",
		"DOCKER_REGISTRY_SERVER_URL": "https://faaskubelet.azurecr.io", "DOCKER_REGISTRY_SERVER_USERNAME": "puller", "DOCKER_REGISTRY_SERVER_PASSWORD": "pw"} {
		if got[k] != want {
			t.Errorf("setting %s = %q, want %q", k, got[k], want)
		}
	}
	if *site.Kind != "functionapp,linux,container" || !*site.Properties.Reserved || *site.Properties.SiteConfig.AppCommandLine != "/app/server" {
		t.Errorf("site = %+v", site)
	}
	if _, ok := site.Tags["faas-kubelet.io:pod-uid"]; !ok {
		t.Errorf("tags are not encoded for Azure (no '/'): %v", site.Tags)
	}
	fn.Env = map[string]string{"AzureWebJobsStorage": "mine"}
	if _, err := siteFor(fn, &Options{}); !errdefs.IsInvalidInput(err) {
		t.Errorf("a pod overriding a managed setting: %v", err)
	}
}

func TestLogsFromTheContainerLog(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"one", "two", "three"} {
		s.AppendLog("rg-functions", fn.Name, l)
	}
	read := func(o translate.LogOptions) string {
		rc, err := b.Logs(ctx, fn.Name, o)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, _ := io.ReadAll(rc)
		return string(data)
	}
	if got := read(translate.LogOptions{Tail: 2, HasTail: true}); got != "two\nthree\n" {
		t.Errorf("tail 2 = %q", got)
	}
	if got := read(translate.LogOptions{Tail: 1, HasTail: true, Timestamps: true}); !strings.HasSuffix(got, " three\n") || len(got) < 25 {
		t.Errorf("timestamps = %q", got)
	}
	if got := read(translate.LogOptions{Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("since the future = %q", got)
	}
	if got := read(translate.LogOptions{LimitBytes: 5}); len(got) != 5 {
		t.Errorf("limit-bytes 5 = %q", got)
	}
	followEvery = 50 * time.Millisecond
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := b.Logs(fctx, fn.Name, translate.LogOptions{Follow: true, Tail: 0, HasTail: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AppendLog("rg-functions", fn.Name, "four")
	buf := make([]byte, 64)
	n, err := rc.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "four") {
		t.Errorf("follow read %q, %v", buf[:n], err)
	}
	cancel()
}

func TestFollowReadsKuduLogStream(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	b.opts.Credential = StaticToken(emu.DefaultToken)
	b.opts.KuduEndpoint = baseURL + "/_kudu/{app}"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn := function(t, image, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Logs(ctx, fn.Name, translate.LogOptions{Follow: true, HasTail: true, Tail: 0})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		n, _ := rc.Read(buf)
		got <- string(buf[:n])
	}()
	time.Sleep(300 * time.Millisecond)
	s.AppendLog("rg-functions", fn.Name, "streamed line")
	select {
	case line := <-got:
		if line != "streamed line\n" {
			t.Errorf("follow read %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the streamed line never arrived")
	}
	if s.Calls()["LogStream"] != 1 || s.Calls()["GetWebSiteContainerLogs"] != 1 {
		t.Errorf("calls = %v: want one snapshot, then the log stream", s.Calls())
	}
}

func TestInvokeAndTagForJobs(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationFunction: "process"}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	inv, err := b.Invoke(ctx, fn.Name, []byte(`{"order":1}`))
	if err != nil || inv.FunctionError != "" || string(inv.Output) != `{"order":1}` {
		t.Fatalf("invoke: %+v %v", inv, err)
	}
	if err := b.Tag(ctx, fn.Name, map[string]string{translate.TagJobState: translate.JobSucceeded}); err != nil {
		t.Fatal(err)
	}
	st, err := b.Get(ctx, fn.Name)
	if err != nil || st.Tags[translate.TagJobState] != translate.JobSucceeded || st.Tags[translate.TagPodUID] != "uid-1" {
		t.Errorf("tags after merge: %v %v", st.Tags, err)
	}
	logs, err := b.Logs(ctx, fn.Name, translate.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(logs)
	if !strings.Contains(string(data), "Executed 'Functions.process' (Succeeded") {
		t.Errorf("logs lack the execution:\n%s", data)
	}
	if s.Calls()["InvokeFunction"] != 1 || s.Calls()["UpdateTagsAtScope"] != 1 {
		t.Errorf("calls = %v", s.Calls())
	}
	// Asynchronous: not supported. The host's admin API runs non-HTTP
	// triggers only; for the app's HTTP trigger it would answer 202 and the
	// run would fail, so nothing is sent.
	if _, err := b.InvokeAsync(ctx, fn.Name, []byte(`{"order":2}`)); !errors.Is(err, provider.ErrNotSupported) ||
		!strings.Contains(err.Error(), "invoke --async") || !strings.Contains(err.Error(), "synchronously") {
		t.Errorf("async invoke: %v, want ErrNotSupported saying HTTP-triggered functions run only synchronously", err)
	}
	if s.Calls()["InvokeFunctionAdmin"] != 0 {
		t.Errorf("the admin API was called: %v", s.Calls())
	}

	failing := function(t, image, func(p *corev1.Pod) {
		p.UID, p.Name = "uid-2", "failing"
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_FAIL", Value: "disk full"}}
	})
	if _, err := b.Deploy(ctx, failing); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, failing.Name, translate.PhaseActive)
	inv, err = b.Invoke(ctx, failing.Name, nil)
	if err != nil || !strings.Contains(inv.FunctionError, "disk full") {
		t.Errorf("failing invoke: %+v %v", inv, err)
	}
}
