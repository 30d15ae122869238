package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/lambda"
)

// cloud is one real backend over its in-process emulator, and a pod spec it
// runs.
type cloud struct {
	name    string
	image   string
	backend provider.Backend
}

func clouds(t *testing.T) []cloud {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	serve := func(h http.Handler) string {
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		return ts.URL
	}
	lurl := serve(lambdaemu.New(lambdaemu.Options{}))
	lo := lambda.Options{Region: lambdaemu.DefaultRegion, Endpoint: lurl, DefaultRole: "arn:aws:iam::123456789012:role/fn",
		Credentials: credentials.NewStaticCredentialsProvider(lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey, "")}
	lb := lambda.New(lambda.NewClient(aws.Config{}, lo), lambda.NewLogsClient(aws.Config{}, lo), lo)

	aurl := serve(azureemu.New(azureemu.Options{}))
	web, tags, err := azure.NewClients(azure.ClientOptions{SubscriptionID: azureemu.DefaultSubscription, Endpoint: aurl, Credential: azure.StaticToken(azureemu.DefaultToken)})
	if err != nil {
		t.Fatal(err)
	}
	ab := azure.New(web, tags, azure.Options{ResourceGroup: "rg", Location: azureemu.DefaultLocation,
		ServerFarmID: "/subscriptions/" + azureemu.DefaultSubscription + "/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan"})

	furl := serve(alibabaemu.New(alibabaemu.Options{}))
	cred, err := alibaba.StaticCredential(alibabaemu.DefaultAccessKeyID, alibabaemu.DefaultAccessKeySecret, "")
	if err != nil {
		t.Fatal(err)
	}
	co := alibaba.ClientOptions{Region: alibabaemu.DefaultRegion, AccountID: alibabaemu.DefaultAccountID, Endpoint: furl, Credential: cred}
	fcc, err := alibaba.NewClient(co)
	if err != nil {
		t.Fatal(err)
	}
	fb := alibaba.New(fcc, nil, alibaba.Options{Region: alibabaemu.DefaultRegion, AccountID: alibabaemu.DefaultAccountID})

	return []cloud{
		{"aws-lambda", "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1", lb},
		{"azure-functions", "faaskubelet.azurecr.io/hello:1", ab},
		{"alibaba-fc", "registry.cn-hangzhou.aliyuncs.com/faas-kubelet/hello:1", fb},
	}
}

// hostile is a pod no function can run (or one cloud cannot), and the field
// its refusal must name.
type hostile struct {
	name   string
	field  string
	mutate func(p *corev1.Pod)
}

func container(p *corev1.Pod) *corev1.Container { return &p.Spec.Containers[0] }

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// everywhere are refused by the shared translation on every cloud.
var everywhere = []hostile{
	{"two-containers", "spec.containers", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }},
	{"init-container", "spec.initContainers", func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "x"}} }},
	{"host-network", "spec.hostNetwork", func(p *corev1.Pod) { p.Spec.HostNetwork = true }},
	{"host-pid", "spec.hostPID", func(p *corev1.Pod) { p.Spec.HostPID = true }},
	{"host-ipc", "spec.hostIPC", func(p *corev1.Pod) { p.Spec.HostIPC = true }},
	{"host-path", "spec.volumes[0].hostPath", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var"}}}}
	}},
	{"empty-dir", "spec.volumes[0].emptyDir", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}},
	{"pvc", "spec.volumes[0].persistentVolumeClaim", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "db", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "db"}}}}
	}},
	{"no-image", "spec.containers[0].image", func(p *corev1.Pod) { container(p).Image = "" }},
	{"privileged", "spec.containers[0].securityContext.privileged", func(p *corev1.Pod) {
		yes := true
		container(p).SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	}},
	{"capabilities", "spec.containers[0].securityContext.capabilities.add", func(p *corev1.Pod) {
		container(p).SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
	}},
	{"volume-mount", "spec.containers[0].volumeMounts[0]", func(p *corev1.Pod) {
		container(p).VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}}
	}},
	{"volume-device", "spec.containers[0].volumeDevices", func(p *corev1.Pod) {
		container(p).VolumeDevices = []corev1.VolumeDevice{{Name: "disk", DevicePath: "/dev/xvda"}}
	}},
	{"stdin", "spec.containers[0].stdin", func(p *corev1.Pod) { container(p).Stdin = true }},
	{"tty", "spec.containers[0].tty", func(p *corev1.Pod) { container(p).TTY = true }},
	{"host-port", "spec.containers[0].ports[0].hostPort", func(p *corev1.Pod) {
		container(p).Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 80}}
	}},
	{"udp-port", "spec.containers[0].ports[0].protocol", func(p *corev1.Pod) {
		container(p).Ports = []corev1.ContainerPort{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
	}},
	{"two-ports", "spec.containers[0].ports", func(p *corev1.Pod) {
		container(p).Ports = []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090}}
	}},
	{"bad-architecture", "metadata.annotations[faas-kubelet.io/architecture]", func(p *corev1.Pod) {
		p.Annotations = map[string]string{"faas-kubelet.io/architecture": "riscv64"}
	}},
}

// only are refused by one cloud, for what that cloud cannot run.
var only = map[string][]hostile{
	"aws-lambda": {
		{"docker-hub", "spec.containers[0].image", func(p *corev1.Pod) { container(p).Image = "nginx:1.27" }},
		{"memory-20gi", "spec.containers[0].resources.limits.memory", func(p *corev1.Pod) {
			container(p).Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: mustQuantity("20Gi")}
		}},
		{"disk-20gi", "spec.containers[0].resources.limits.ephemeral-storage", func(p *corev1.Pod) {
			container(p).Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: mustQuantity("20Gi")}
		}},
		{"timeout-901", "metadata.annotations[faas-kubelet.io/timeout]", func(p *corev1.Pod) { p.Annotations = map[string]string{"faas-kubelet.io/timeout": "901"} }},
		{"url-auth", "metadata.annotations[faas-kubelet.io/function-url-auth]", func(p *corev1.Pod) {
			container(p).Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			p.Annotations = map[string]string{"faas-kubelet.io/function-url-auth": "PUBLIC"}
		}},
		{"concurrency", "metadata.annotations[faas-kubelet.io/reserved-concurrency]", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"faas-kubelet.io/reserved-concurrency": "-1"}
		}},
		{"half-vpc", "metadata.annotations[faas-kubelet.io/vpc-subnet-ids]", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"faas-kubelet.io/vpc-subnet-ids": "subnet-1"}
		}},
		{"zip-without-code", "spec.containers[0].image", func(p *corev1.Pod) { container(p).Image = "public.ecr.aws/lambda/python:3.12" }},
		{"env-too-big", "spec.containers[0].env", func(p *corev1.Pod) {
			container(p).Env = []corev1.EnvVar{{Name: "BLOB", Value: strings.Repeat("x", 5000)}}
		}},
	},
	"azure-functions": {
		{"pipe-in-image", "spec.containers[0].image", func(p *corev1.Pod) { container(p).Image = "registry.example.com/a|b:1" }},
		{"managed-setting", "spec.containers[0].env[AzureWebJobsStorage]", func(p *corev1.Pod) {
			container(p).Env = []corev1.EnvVar{{Name: "AzureWebJobsStorage", Value: "mine"}}
		}},
	},
	"alibaba-fc": {
		{"docker-hub", "spec.containers[0].image", func(p *corev1.Pod) { container(p).Image = "nginx:1.27" }},
		{"working-dir", "spec.containers[0].workingDir", func(p *corev1.Pod) { container(p).WorkingDir = "/srv" }},
		{"arm64", "kubernetes.io/arch", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"} }},
		{"too-many-tags", "metadata.labels", func(p *corev1.Pod) { p.Labels = manyLabels(14) }},
		{"disk-20gi", "spec.containers[0].resources.limits.ephemeral-storage", func(p *corev1.Pod) {
			container(p).Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: mustQuantity("20Gi")}
		}},
		{"memory-64mi", "spec.containers[0].resources.limits.memory", func(p *corev1.Pod) {
			container(p).Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: mustQuantity("64Mi")}
		}},
		{"timeout-0", "metadata.annotations[faas-kubelet.io/timeout]", func(p *corev1.Pod) { p.Annotations = map[string]string{"faas-kubelet.io/timeout": "0"} }},
		{"concurrency-500", "metadata.annotations[faas-kubelet.io/instance-concurrency]", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"faas-kubelet.io/instance-concurrency": "500"}
		}},
		{"http-auth", "metadata.annotations[faas-kubelet.io/http-auth]", func(p *corev1.Pod) {
			container(p).Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			p.Annotations = map[string]string{"faas-kubelet.io/http-auth": "open"}
		}},
		{"other-region-registry", "InvalidArgument", func(p *corev1.Pod) { container(p).Image = "registry.eu-central-1.aliyuncs.com/faas-kubelet/hello:1" }},
	},
}

func manyLabels(n int) map[string]string {
	l := map[string]string{}
	for i := 0; i < n; i++ {
		l[fmt.Sprintf("label-%02d", i)] = "v"
	}
	return l
}

// Every hostile pod ends Failed with reason InvalidSpec, a message naming
// the field and a Warning event; no call fails, nothing is left in the
// cloud, and a good pod created after them runs.
func TestHostilePodsFailNamingTheFieldOnEveryCloud(t *testing.T) {
	total := 0
	for _, c := range clouds(t) {
		cases := append(append([]hostile{}, everywhere...), only[c.name]...)
		total += len(cases)
		t.Run(c.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(1000)
			p, err := provider.New(provider.Options{NodeName: "vk-hostile", Backend: c.backend, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			last := map[types.UID]corev1.PodStatus{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p.NotifyPods(ctx, func(pod *corev1.Pod) {
				mu.Lock()
				last[pod.UID] = pod.Status
				mu.Unlock()
			})
			for i, h := range cases {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: h.name, Namespace: "hostile", UID: types.UID(fmt.Sprintf("uid-%s-%d", c.name, i))},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: c.image}}},
				}
				h.mutate(pod)
				if err := p.CreatePod(ctx, pod); err != nil {
					t.Errorf("%s: CreatePod returned %v; a refusal must fail the pod, not the call", h.name, err)
					continue
				}
				mu.Lock()
				st := last[pod.UID]
				mu.Unlock()
				if st.Phase != corev1.PodFailed || st.Reason != "InvalidSpec" || !strings.Contains(st.Message, h.field) {
					t.Errorf("%s: phase=%s reason=%s message=%q, want Failed/InvalidSpec naming %s", h.name, st.Phase, st.Reason, st.Message, h.field)
				}
			}
			events := drain(rec)
			for _, h := range cases {
				if !strings.Contains(events, h.field) {
					t.Errorf("%s: no event names %s", h.name, h.field)
				}
			}
			good := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "hostile", UID: types.UID("uid-good-" + c.name)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: c.image}}},
			}
			if err := p.CreatePod(ctx, good); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			phase := last[good.UID].Phase
			mu.Unlock()
			if phase == corev1.PodFailed {
				t.Errorf("the good pod failed: %+v", last[good.UID])
			}
			listed, err := c.backend.List(ctx, "vk-hostile")
			if err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 {
				t.Errorf("functions in the cloud = %+v, want only the good pod's", listed)
			}
		})
	}
	if total < 30 {
		t.Errorf("only %d hostile specs", total)
	}
	t.Logf("%d refusals checked (%d specs refused everywhere, run on each cloud, and %d cloud-specific)", total, len(everywhere), total-3*len(everywhere))
}

func drain(rec *record.FakeRecorder) string {
	var b strings.Builder
	for {
		select {
		case e := <-rec.Events:
			b.WriteString(e + "\n")
		case <-time.After(50 * time.Millisecond):
			return b.String()
		}
	}
}
