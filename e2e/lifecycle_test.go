//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func runningPods(t *testing.T, ns, selector string) (map[string]bool, string) {
	pods := listPods(t, ns, selector)
	uids, desc := map[string]bool{}, []string{}
	for i := range pods {
		desc = append(desc, fmt.Sprintf("%s %s", pods[i].Name, pods[i].Status.Phase))
		if pods[i].Status.Phase == corev1.PodRunning && ready(&pods[i]) {
			uids[string(pods[i].UID)] = true
		}
	}
	return uids, strings.Join(desc, "; ")
}

// faas-kubelet stopped with SIGTERM, then killed with SIGKILL, and started
// again while pods run: the same functions are adopted, none is created
// twice or deleted (the emulator's ledger of the node's calls), and the
// pods stay Running and Ready throughout (a watch sees every change of
// their status while the node restarts).
func TestRestartAdoptsFunctions(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) { testRestartAdoptsFunctions(t, c) })
	}
}

func testRestartAdoptsFunctions(t *testing.T, c cloudUnderTest) {
	emu := startEmulator(t)
	addr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(17300+nextPort.Add(1)))
	k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint,
		args: []string{"--metrics-address", addr}})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	adopted := func() int {
		_, body := scrape(t, "http://"+addr+"/metrics")
		return metricValue(body, fmt.Sprintf(`faas_kubelet_functions_adopted_from_listing_total{cloud=%q,node=%q}`, c.name, k.node))
	}
	ns := namespace(t)
	pods := recordPods(t, ns)
	applyYAML(t, ns, strings.ReplaceAll(strings.Replace(helloDeployment, "replicas: 3", "replicas: 2", 1), ecrImage, c.image))
	var before map[string]bool
	eventually(t, 90*time.Second, "2 pods Running", func() (bool, string) {
		var desc string
		before, desc = runningPods(t, ns, "app=hello")
		return len(before) == 2, desc
	})
	functionsBefore := c.functions(t, emu)
	o := opsOf[c.name]
	running := time.Now()
	seq := 0
	if l := emu.ledger(t, c.name); len(l) > 0 {
		seq = l[len(l)-1].Seq
	}

	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		creates := emu.callsOf(t, c.name)[c.adoptOp]
		if how == "SIGTERM" {
			k.stop(t)
		} else {
			k.kill(t)
		}
		k.start(t)
		// The new process re-creates both pods and finds their functions:
		// in the listing its start pages, where the listing shows each
		// function's spec digest, with no call of their own; otherwise
		// with one each (Azure's GET finds the app).
		eventually(t, 30*time.Second, "the restarted process to reconcile both pods", func() (bool, string) {
			n, a := emu.callsOf(t, c.name)[c.adoptOp]-creates, adopted()
			return n+a >= 2, fmt.Sprintf("%d %s calls since the restart, %d functions adopted from the listing", n, c.adoptOp, a)
		})
		if n, a := emu.callsOf(t, c.name)[c.adoptOp]-creates, adopted(); c.fromListing && (a != 2 || n != 0) {
			t.Errorf("after %s: %d functions adopted from the listing and %d %s calls; want both adopted with no call", how, a, n, c.adoptOp)
		}
		after, desc := runningPods(t, ns, "app=hello")
		if len(after) != 2 {
			t.Errorf("after %s and restart: %s", how, desc)
		}
		for uid := range before {
			if !after[uid] {
				t.Errorf("after %s: pod %s is no longer Running (%s)", how, uid, desc)
			}
		}
		fns := c.functions(t, emu)
		if len(fns) != 2 {
			t.Errorf("after %s: %d functions, want the same 2: %v", how, len(fns), fns)
		}
		for name := range functionsBefore {
			if _, ok := fns[name]; !ok {
				t.Errorf("after %s: function %s was not kept", how, name)
			}
		}
	}
	// Every change of the pods' status the API server had since they ran.
	if lapses := pods.lapsesSince(running); len(lapses) > 0 {
		t.Errorf("pods were not Running and Ready throughout the restarts: %+v", lapses)
	}
	for _, e := range emu.ledger(t, c.name, append([]string{o.create, o.remove}, o.destructive...)...) {
		if e.Harness {
			continue
		}
		if e.Op == o.remove || slices.Contains(o.destructive, e.Op) {
			t.Errorf("the node called %s on %s (answered %d): a restart deletes nothing", e.Op, e.Name, e.Status)
		}
		if e.Seq > seq && o.creates(callEvent{Op: e.Op, Applied: e.Applied(), Created: slices.Contains(e.Notes, "created")}) {
			t.Errorf("the restarted node created %s again", e.Name)
		}
	}
}

// A function deleted behind faas-kubelet's back fails its pod, and the
// pod's ReplicaSet replaces it with a new pod and a new function.
func TestFunctionDeletedOutsideFailsPod(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) { testFunctionDeletedOutsideFailsPod(t, c) })
	}
}

func testFunctionDeletedOutsideFailsPod(t *testing.T, c cloudUnderTest) {
	emu, _ := c.start(t)
	ns := namespace(t)
	applyYAML(t, ns, strings.ReplaceAll(strings.Replace(helloDeployment, "replicas: 3", "replicas: 1", 1), ecrImage, c.image))
	var victim corev1.Pod
	eventually(t, 90*time.Second, "1 pod Running", func() (bool, string) {
		pods := listPods(t, ns, "app=hello")
		if len(pods) == 1 && pods[0].Status.Phase == corev1.PodRunning {
			victim = pods[0]
			return true, ""
		}
		return false, fmt.Sprint(len(pods))
	})
	c.deleteFunction(t, emu, functionNameOf(&victim))
	eventually(t, 30*time.Second, "the pod to fail with FunctionNotFound", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), victim.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "FunctionNotFound", string(p.Status.Phase) + " " + p.Status.Reason
	})
	eventually(t, 60*time.Second, "a replacement pod Running with its own function", func() (bool, string) {
		uids, desc := runningPods(t, ns, "app=hello")
		return len(uids) == 1 && !uids[string(victim.UID)] && len(c.functions(t, emu)) == 1, desc
	})
}

// A pod deleted while its function is still Pending leaves nothing behind.
func TestLambdaPodDeletedWhilePending(t *testing.T) {
	emu := startEmulator(t, "--lambda-activation-delay", "1h")
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "short", "  containers:\n  - {name: a, image: "+ecrImage+"}\n"))
	eventually(t, 30*time.Second, "the function to exist, and the pod to be Pending", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "short", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		waiting := len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil
		return len(emu.functions(t)) == 1 && p.Status.Phase == corev1.PodPending && waiting, string(p.Status.Phase)
	})
	mustKubectl(t, "delete", "pod", "short", "-n", ns, "--wait=false")
	eventually(t, 60*time.Second, "no function and no pod", func() (bool, string) {
		n := len(emu.functions(t))
		_, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "short", metav1.GetOptions{})
		return n == 0 && err != nil, fmt.Sprintf("%d functions, pod err=%v", n, err)
	})
}

// A pod with a container port gets a function URL shown on the pod; its
// reserved concurrency is set; changing its image updates the function's
// code and the pod shows the new image once the update succeeds.
func TestLambdaURLConcurrencyAndImageUpdate(t *testing.T) {
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	spec := "  containers:\n  - name: a\n    image: " + ecrImage + "\n    ports: [{containerPort: 8080}]\n"
	manifest := strings.Replace(fmt.Sprintf(podTemplate, "web", spec), "metadata: {name: web}",
		"metadata:\n  name: web\n  annotations: {faas-kubelet.io/reserved-concurrency: \"5\", faas-kubelet.io/function-url-auth: NONE}", 1)
	applyYAML(t, ns, manifest)
	var pod *corev1.Pod
	eventually(t, 60*time.Second, "pod web Running with its function URL", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pod = p
		url := p.Annotations["faas-kubelet.io/function-url"]
		return p.Status.Phase == corev1.PodRunning && strings.HasPrefix(url, "https://") && strings.Contains(url, ".lambda-url."), string(p.Status.Phase) + " " + url
	})
	fn, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(functionNameOf(pod))})
	if err != nil {
		t.Fatal(err)
	}
	if fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 5 {
		t.Errorf("reserved concurrency = %+v, want 5", fn.Concurrency)
	}
	url, err := emu.lambda.GetFunctionUrlConfig(context.Background(), &sdk.GetFunctionUrlConfigInput{FunctionName: aws.String(functionNameOf(pod))})
	if err != nil || url.AuthType != "NONE" || aws.ToString(url.FunctionUrl) != pod.Annotations["faas-kubelet.io/function-url"] {
		t.Errorf("function URL config = %+v, %v", url, err)
	}

	newImage := strings.Replace(ecrImage, ":1", ":2", 1)
	mustKubectl(t, "set", "image", "pod/web", "-n", ns, "a="+newImage)
	eventually(t, 60*time.Second, "the function's code and the pod's status on the new image", func() (bool, string) {
		fn, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(functionNameOf(pod))})
		if err != nil {
			return false, err.Error()
		}
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cs := p.Status.ContainerStatuses
		ok := aws.ToString(fn.Code.ImageUri) == newImage && len(cs) == 1 && cs[0].Image == newImage && cs[0].Ready && p.Status.Phase == corev1.PodRunning
		return ok, fmt.Sprintf("function image %s, pod %s %+v", aws.ToString(fn.Code.ImageUri), p.Status.Phase, cs)
	})
}

// A pod deleted while faas-kubelet was down leaves a function behind; the
// next start finds it by its node tag and deletes it, and only it.
func TestRestartCleansUpFunctionsOfDeletedPods(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) { testRestartCleansUpFunctionsOfDeletedPods(t, c) })
	}
}

func testRestartCleansUpFunctionsOfDeletedPods(t *testing.T, c cloudUnderTest) {
	emu, k := c.start(t)
	ns := namespace(t)
	for _, name := range []string{"keep", "drop", "same"} {
		applyYAML(t, ns, fmt.Sprintf(podTemplate, name, "  containers:\n  - {name: a, image: "+c.image+"}\n"))
	}
	eventually(t, 60*time.Second, "3 pods Running", func() (bool, string) {
		uids, desc := runningPods(t, ns, "")
		return len(uids) == 3, desc
	})
	keep, _ := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "keep", metav1.GetOptions{})
	k.stop(t)
	// While faas-kubelet is down: one pod is deleted, and one is deleted and
	// created again under the same name (a new UID), which Virtual
	// Kubelet's own start-up cleanup, comparing names, cannot tell apart.
	mustKubectl(t, "delete", "pod", "drop", "same", "-n", ns, "--force", "--grace-period=0")
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "same", "  containers:\n  - {name: a, image: "+c.image+"}\n"))
	k.start(t)
	var same *corev1.Pod
	eventually(t, 60*time.Second, "only the kept pod's and the new same pod's functions left", func() (bool, string) {
		same, _ = cluster.client.CoreV1().Pods(ns).Get(context.Background(), "same", metav1.GetOptions{})
		fns := c.functions(t, emu)
		_, kept := fns[functionNameOf(keep)]
		_, renewed := fns[functionNameOf(same)]
		return len(fns) == 2 && kept && renewed, fmt.Sprint(fns)
	})
	if uids, desc := runningPods(t, ns, ""); len(uids) != 2 || !uids[string(keep.UID)] || !uids[string(same.UID)] {
		t.Errorf("pods after the restart: %s", desc)
	}
}

// A delete the cloud refuses leaves the pod Terminating, retried with
// backoff and an event saying why, until the cloud accepts it.
func TestRefusedDeleteIsRetriedWithEvents(t *testing.T) {
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "stubborn", "  containers:\n  - {name: a, image: "+ecrImage+"}\n"))
	eventually(t, 60*time.Second, "pod stubborn Running", func() (bool, string) {
		uids, desc := runningPods(t, ns, "")
		return len(uids) == 1, desc
	})
	injectFault(t, emu.endpoint, `{"op": "DeleteFunction", "status": 403, "code": "AccessDeniedException", "count": 3}`)
	mustKubectl(t, "delete", "pod", "stubborn", "-n", ns, "--wait=false")
	eventually(t, 90*time.Second, "the pod gone once the cloud accepts the delete", func() (bool, string) {
		n := len(listPods(t, ns, ""))
		return n == 0, fmt.Sprintf("%d pods", n)
	})
	events := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "reason=FunctionDeleteFailed")
	if !strings.Contains(events, "AccessDenied") || !strings.Contains(events, "will retry") {
		t.Errorf("no FunctionDeleteFailed event saying why and what happens next:\n%s", events)
	}
	if n := len(emu.functions(t)); n != 0 {
		t.Errorf("%d functions left", n)
	}
	if n := emu.calls(t)["DeleteFunction"]; n < 4 {
		t.Errorf("DeleteFunction calls = %d, want the 3 refused and the one accepted", n)
	}
}

func injectFault(t *testing.T, endpoint, fault string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/_emulator/faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("injecting %s: HTTP %d", fault, resp.StatusCode)
	}
}
