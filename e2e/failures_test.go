//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// refusalsOf are, per cloud, the emulator refusals that stand for "the
// role does not exist yet" (Azure: the node's plan), the Waiting reason
// and a part of the cloud's message pods show for it, what the pod
// template adds so that the refused thing is used, the call refused, and
// what the node's config needs for the template (a grant of the role).
var refusalsOf = map[string]struct{ refusals, reason, message, annotations, op, nodeExtra string }{
	"aws-lambda": {`{"roles": ["arn:aws:iam::123456789012:role/e2e"]}`, "FunctionRoleError", "cannot be assumed by Lambda", "", "CreateFunction", ""},
	"alibaba-fc": {fmt.Sprintf(`{"roles": ["acs:ram::%s:role/e2e"]}`, alibabaemu.DefaultAccountID), "FunctionRoleError", "assume the role",
		fmt.Sprintf(`{faas-kubelet.io/role-arn: "acs:ram::%s:role/e2e"}`, alibabaemu.DefaultAccountID), "CreateService",
		fmt.Sprintf("  podIdentity: {allow: [{namespace: \"*\", roles: [\"acs:ram::%s:role/e2e\"]}]}\n", alibabaemu.DefaultAccountID)},
	"azure-functions": {fmt.Sprintf(`{"plans": ["/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/serverfarms/plan-e2e"]}`, azureemu.DefaultSubscription, e2eResourceGroup),
		"FunctionConfigError", "Cannot find ServerFarm", "", "CreateOrUpdate", ""},
}

// setRefusals replaces what the cloud's emulator refuses (DELETE: nothing).
func (e *emulator) setRefusals(t *testing.T, cloud, body string) {
	t.Helper()
	method := http.MethodPut
	if body == "" {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, e.endpointOf(cloud)+"/_emulator/refusals", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s /_emulator/refusals %s: HTTP %d", method, body, resp.StatusCode)
	}
}

func (e *emulator) endpointOf(cloud string) string {
	switch cloud {
	case "azure-functions":
		return e.azureEndpoint
	case "alibaba-fc":
		return e.alibabaEndpoint
	}
	return e.endpoint
}

// deployment is a Deployment of replicas function pods labelled app=name,
// on node (any virtual node when empty); annotations (YAML flow map) go on
// the pod template, extra under spec.
func deployment(node, name, image string, replicas int, annotations, extra string) string {
	if annotations == "" {
		annotations = "{}"
	}
	selector := "{type: virtual-kubelet}"
	if node != "" {
		selector = fmt.Sprintf("{type: virtual-kubelet, kubernetes.io/hostname: %s}", node)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}, annotations: %[4]s}
    spec:
      terminationGracePeriodSeconds: 2
      nodeSelector: %[6]s
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
%[5]s      containers:
      - name: %[1]s
        image: %[3]s
`, name, replicas, image, annotations, extra, selector)
}

// waitingPods describes the pods selector selects: each one's phase and container
// Waiting reason, and their UIDs.
func waitingPods(t *testing.T, ns, selector string) (pods []corev1.Pod, desc string, uids []string) {
	pods = listPods(t, ns, selector)
	var d []string
	for _, p := range pods {
		reason, msg := "", ""
		if len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil {
			reason, msg = p.Status.ContainerStatuses[0].State.Waiting.Reason, p.Status.ContainerStatuses[0].State.Waiting.Message
		}
		d = append(d, fmt.Sprintf("%s %s %s %q", p.Name, p.Status.Phase, reason, msg))
		uids = append(uids, string(p.UID))
	}
	sort.Strings(uids)
	return pods, strings.Join(d, "; "), uids
}

func allWaiting(pods []corev1.Pod, n int, reason, message string) bool {
	if len(pods) != n {
		return false
	}
	for _, p := range pods {
		cs := p.Status.ContainerStatuses
		if p.Status.Phase != corev1.PodPending || ready(&p) || len(cs) == 0 || cs[0].State.Waiting == nil ||
			cs[0].State.Waiting.Reason != reason || !strings.Contains(cs[0].State.Waiting.Message, message) {
			return false
		}
	}
	return true
}

// attemptsBy is how many create attempts the kubelet's backoff (10 s,
// doubling) allows in elapsed.
func attemptsBy(elapsed time.Duration) int {
	n, at, step := 1, 10*time.Second, 10*time.Second
	for at <= elapsed {
		n++
		step *= 2
		at += step
	}
	return n
}

// A Deployment the cloud cannot run yet never churns: with a field no
// function can have, 3 pods wait with InvalidSpec and the cloud is never
// called; with a role the cloud does not know yet (Azure: a plan), 3 pods
// wait with the cloud's reason, the cloud sees a create per backoff step,
// and once the role exists the same 3 pods run.
func TestRefusedDeploymentsWaitWithoutChurn(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // minutes of waiting on each cloud, side by side
			ref := refusalsOf[c.name]
			emu, k := c.startWith(t, ref.nodeExtra)
			ns := namespace(t)

			creates := emu.callsOf(t, c.name)[c.createOp]
			applyYAML(t, ns, deployment(k.node, "bad", c.image, 3, "", "      hostNetwork: true\n"))
			eventually(t, 60*time.Second, "3 pods waiting with InvalidSpec naming spec.hostNetwork", func() (bool, string) {
				pods, desc, _ := waitingPods(t, ns, "app=bad")
				return allWaiting(pods, 3, "InvalidSpec", "spec.hostNetwork"), desc
			})
			for range 60 {
				pods, desc, _ := waitingPods(t, ns, "app=bad")
				if !allWaiting(pods, 3, "InvalidSpec", "spec.hostNetwork") {
					t.Fatalf("pods of a spec error changed: %s", desc)
				}
				time.Sleep(time.Second)
			}
			if n := emu.callsOf(t, c.name)[c.createOp] - creates; n != 0 {
				t.Errorf("%d %s calls for pods the translation refused", n, c.createOp)
			}
			mustKubectl(t, "delete", "deployment", "bad", "-n", ns, "--wait=false")

			emu.setRefusals(t, c.name, ref.refusals)
			creates = emu.callsOf(t, c.name)[ref.op]
			start := time.Now()
			applyYAML(t, ns, deployment(k.node, "hello", c.image, 3, ref.annotations, ""))
			var uids []string
			eventually(t, 60*time.Second, "3 pods waiting with "+ref.reason, func() (bool, string) {
				pods, desc, u := waitingPods(t, ns, "app=hello")
				uids = u
				return allWaiting(pods, 3, ref.reason, ref.message), desc
			})
			for time.Since(start) < 2*time.Minute {
				pods, desc, u := waitingPods(t, ns, "app=hello")
				if len(pods) != 3 || strings.Join(u, ",") != strings.Join(uids, ",") || !allWaiting(pods, 3, ref.reason, ref.message) {
					t.Fatalf("pods replaced or changed while the cloud refused them: %s", desc)
				}
				time.Sleep(time.Second)
			}
			if n, most := emu.callsOf(t, c.name)[ref.op]-creates, 3*attemptsBy(time.Since(start)); n > most || n < 3 {
				t.Errorf("%d %s calls in %s, want 3 to %d (one per pod and backoff step)", n, ref.op, time.Since(start).Round(time.Second), most)
			}
			events := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "reason="+ref.reason, "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
			if !strings.Contains(events, "retrying in") {
				t.Errorf("no %s events saying when it is retried:\n%s", ref.reason, events)
			}

			// The next attempt comes within the backoff step the events
			// announced last (after 2 minutes: 80 s).
			emu.setRefusals(t, c.name, "")
			eventually(t, 100*time.Second, "the same 3 pods Running within one backoff step", func() (bool, string) {
				running, desc := runningPods(t, ns, "app=hello")
				_, _, u := waitingPods(t, ns, "app=hello")
				return len(running) == 3 && strings.Join(u, ",") == strings.Join(uids, ","), desc
			})
			if n := len(c.functions(t, emu)); n != 3 {
				t.Errorf("%d functions, want 3", n)
			}
			rs := mustKubectl(t, "get", "rs", "-n", ns, "-l", "app=hello", "--no-headers")
			if lines := strings.Split(strings.TrimSpace(rs), "\n"); len(lines) != 1 {
				t.Errorf("kubectl get rs: %s", rs)
			}
		})
	}
}

const waitJobYAML = `apiVersion: batch/v1
kind: Job
metadata: {name: %[1]s}
spec:
  backoffLimit: 0
  template:
    metadata: {annotations: %[3]s}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
%[4]s      containers:
      - name: task
        image: %[2]s
`

func job(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	j, err := cluster.client.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// A Job whose image does not exist yet waits (FunctionImageError) and
// completes once the image is pushed; a Job with a spec error fails with
// InvalidSpec.
func TestJobsWaitForImagesAndFailOnSpecErrors(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := c.start(t)
			ns := namespace(t)
			emu.setRefusals(t, c.name, fmt.Sprintf(`{"images": [%q]}`, c.image))
			applyYAML(t, ns, fmt.Sprintf(waitJobYAML, "later", c.image, "{}", ""))
			eventually(t, 60*time.Second, "the Job's pod waiting with FunctionImageError", func() (bool, string) {
				pods, desc, _ := waitingPods(t, ns, "job-name=later")
				return allWaiting(pods, 1, "FunctionImageError", ""), desc
			})
			emu.setRefusals(t, c.name, "")
			eventually(t, 90*time.Second, "the Job to complete", func() (bool, string) {
				cond, msg := jobCondition(t, ns, "later")
				return cond == batchv1.JobComplete, msg
			})
			if j := job(t, ns, "later"); j.Status.Succeeded != 1 || j.Status.Failed != 0 {
				t.Errorf("job status succeeded=%d failed=%d, want 1 and 0 (the same pod ran)", j.Status.Succeeded, j.Status.Failed)
			}
			if c.name != "aws-lambda" {
				return // the spec error is the translation's, the same on every cloud
			}
			applyYAML(t, ns, fmt.Sprintf(waitJobYAML, "invalid", c.image, "{}", "      hostNetwork: true\n"))
			eventually(t, 60*time.Second, "the Job to fail", func() (bool, string) {
				cond, msg := jobCondition(t, ns, "invalid")
				return cond == batchv1.JobFailed, msg
			})
			pods := listPods(t, ns, "job-name=invalid")
			if len(pods) != 1 || pods[0].Status.Phase != corev1.PodFailed || pods[0].Status.Reason != "InvalidSpec" || !strings.Contains(pods[0].Status.Message, "spec.hostNetwork") {
				t.Errorf("pods of the invalid Job: %+v", pods)
			}
		})
	}
}

// A run-once pod whose create is throttled (429) past the limiter's
// retries stays Pending and runs once when the cloud answers.
func TestThrottledJobWaitsAndRunsOnce(t *testing.T) {
	c := clouds[0]
	emu, _ := c.start(t)
	ns := namespace(t)
	injectFault(t, emu.endpoint, `{"op": "CreateFunction", "status": 429, "count": 8}`)
	applyYAML(t, ns, fmt.Sprintf(waitJobYAML, "throttled", c.image, "{}", ""))
	eventually(t, 60*time.Second, "the Job's pod waiting, throttled", func() (bool, string) {
		pods, desc, _ := waitingPods(t, ns, "job-name=throttled")
		return allWaiting(pods, 1, "FunctionCreateError", ""), desc
	})
	eventually(t, 90*time.Second, "the Job to complete", func() (bool, string) {
		cond, msg := jobCondition(t, ns, "throttled")
		return cond == batchv1.JobComplete, msg
	})
	if j := job(t, ns, "throttled"); j.Status.Succeeded != 1 || j.Status.Failed != 0 {
		t.Errorf("job status succeeded=%d failed=%d", j.Status.Succeeded, j.Status.Failed)
	}
	if n := emu.callsOf(t, c.name)[c.invokeOp]; n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

// Deleting a Job's pod while its invocation runs is not a completion.
func TestDeletedJobPodIsNotACompletion(t *testing.T) {
	c := clouds[0]
	c.start(t)
	ns := namespace(t)
	applyYAML(t, ns, fmt.Sprintf(waitJobYAML, "cut", c.image, `{faas-kubelet.io/payload: '{"sleepMs": 20000}'}`, ""))
	var pod string
	eventually(t, 60*time.Second, "the Job's pod Running (its invocation in flight)", func() (bool, string) {
		pods := listPods(t, ns, "job-name=cut")
		if len(pods) == 1 && pods[0].Status.Phase == corev1.PodRunning {
			pod = pods[0].Name
			return true, ""
		}
		_, desc, _ := waitingPods(t, ns, "job-name=cut")
		return false, desc
	})
	mustKubectl(t, "delete", "pod", pod, "-n", ns, "--wait=false")
	eventually(t, 60*time.Second, "the Job to fail (backoffLimit 0)", func() (bool, string) {
		cond, msg := jobCondition(t, ns, "cut")
		return cond == batchv1.JobFailed, msg
	})
	if j := job(t, ns, "cut"); j.Status.Succeeded != 0 {
		t.Errorf("job.status.succeeded = %d after its pod was deleted mid-invocation", j.Status.Succeeded)
	}
	// The invocation the deletion did not stop still has its result told.
	eventually(t, 40*time.Second, "the cut invocation's result in the pod's events", func() (bool, string) {
		out, _ := kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+pod, "-o", "custom-columns=REASON:.reason", "--no-headers")
		return strings.Contains(out, "InvocationSucceeded") || strings.Contains(out, "InvocationFailed"), out
	})
}

// A Deployment's pod deleted while it runs never reports Completed: its
// last status is Failed with exit code 137 (or it is gone at once).
func TestDeletedDeploymentPodIsNotCompleted(t *testing.T) {
	startKubelet(t, kubeletOptions{})
	ns := namespace(t)
	applyYAML(t, ns, deployment("", "web", "example.com/web:1", 1, "", ""))
	var pod *corev1.Pod
	eventually(t, 60*time.Second, "the pod Running", func() (bool, string) {
		pods := listPods(t, ns, "app=web")
		if len(pods) == 1 && pods[0].Status.Phase == corev1.PodRunning {
			pod = &pods[0]
			return true, ""
		}
		return false, fmt.Sprint(len(pods), " pods")
	})
	w, err := cluster.client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name, ResourceVersion: pod.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustKubectl(t, "delete", "pod", pod.Name, "-n", ns, "--wait=false")
	deadline := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended before the pod was deleted")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			if p.Status.Phase == corev1.PodSucceeded {
				t.Fatalf("a deleted Deployment pod reported Succeeded")
			}
			for _, cs := range p.Status.ContainerStatuses {
				if term := cs.State.Terminated; term != nil && (term.ExitCode != 137 || term.Reason == "Completed") {
					t.Fatalf("a deleted Deployment pod's container terminated %+v", term)
				}
			}
			if ev.Type == "DELETED" {
				t.Logf("last status of the deleted pod: %s", p.Status.Phase)
				return
			}
		case <-deadline:
			t.Fatal("the pod was not deleted within 60 s")
		}
	}
}

// A pod with the token volume EKS's pod identity webhook injects, in a
// namespace with 30 Services (whose variables pass Lambda's 4 KB), runs,
// with notes saying what was left out.
func TestInjectedVolumesAndServiceLinksDoNotRefusePods(t *testing.T) {
	c := clouds[0]
	c.start(t)
	ns := namespace(t)
	var svcs strings.Builder
	for i := range 30 {
		fmt.Fprintf(&svcs, "---\napiVersion: v1\nkind: Service\nmetadata: {name: backend-service-number-%02d}\nspec:\n  ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]\n", i)
	}
	applyYAML(t, ns, svcs.String())
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "irsa", `  volumes:
  - name: aws-iam-token
    projected: {sources: [{serviceAccountToken: {audience: sts.amazonaws.com, expirationSeconds: 86400, path: token}}]}
  containers:
  - name: app
    image: `+c.image+`
    env:
    - {name: AWS_REGION, value: us-east-1}
    - {name: AWS_ROLE_ARN, value: "arn:aws:iam::123456789012:role/app"}
    - {name: AWS_WEB_IDENTITY_TOKEN_FILE, value: /var/run/secrets/eks.amazonaws.com/serviceaccount/token}
    volumeMounts:
    - {name: aws-iam-token, mountPath: /var/run/secrets/eks.amazonaws.com/serviceaccount, readOnly: true}
`))
	eventually(t, 60*time.Second, "pod irsa Running", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "irsa", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase) + " " + p.Status.Message
	})
	events := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=irsa,reason=FunctionNote", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
	for _, want := range []string{"aws-iam-token", "AWS_WEB_IDENTITY_TOKEN_FILE", "Services are left out"} {
		if !strings.Contains(events, want) {
			t.Errorf("FunctionNote events do not mention %q:\n%s", want, events)
		}
	}
}

// Cloud trouble is not a dead node: while the health ping fails the node
// stays Ready, shows CloudReachable False and a NoSchedule taint of ours,
// nothing is evicted (not even a pod that tolerates not-ready for 20 s),
// and a new pod waits unscheduled until the cloud answers.
func TestCloudTroubleDoesNotEvict(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "impatient", `  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 20}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 20}
  containers:
  - {name: app, image: example.com/app:1}
`))
	var uid string
	eventually(t, 60*time.Second, "pod impatient Running", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "impatient", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		uid = string(p.UID)
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
	})

	if err := os.WriteFile(k.faultFile, []byte("region unavailable (injected)"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "CloudReachable False and the taint", func() (bool, string) {
		n, err := cluster.client.CoreV1().Nodes().Get(context.Background(), k.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cloud, taint := nodeCondition(n, "CloudReachable"), hasTaint(n, "faas-kubelet.io/cloud-unreachable", corev1.TaintEffectNoSchedule)
		return cloud != nil && cloud.Status == corev1.ConditionFalse && strings.Contains(cloud.Message, "region unavailable (injected)") && taint,
			fmt.Sprintf("CloudReachable=%+v taint=%v", cloud, taint)
	})
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "newcomer", "  containers:\n  - {name: app, image: example.com/app:1}\n"))
	for range 90 { // 90 s of cloud trouble: the 20 s toleration would have run out
		n, err := cluster.client.CoreV1().Nodes().Get(context.Background(), k.node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r := nodeCondition(n, string(corev1.NodeReady)); r == nil || r.Status != corev1.ConditionTrue {
			t.Fatalf("node Ready = %+v during cloud trouble", r)
		}
		for _, taint := range n.Spec.Taints {
			if taint.Effect == corev1.TaintEffectNoExecute {
				t.Fatalf("node tainted %s:%s during cloud trouble", taint.Key, taint.Effect)
			}
		}
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "impatient", metav1.GetOptions{})
		if err != nil || string(p.UID) != uid || p.DeletionTimestamp != nil {
			t.Fatalf("pod impatient evicted during cloud trouble: %v %v", err, p.DeletionTimestamp)
		}
		newcomer, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "newcomer", metav1.GetOptions{})
		if err != nil || newcomer.Spec.NodeName != "" {
			t.Fatalf("a new pod was placed on a node whose cloud is unreachable: %v %s", err, newcomer.Spec.NodeName)
		}
		time.Sleep(time.Second)
	}
	if out := mustKubectl(t, "get", "node", k.node, "--no-headers"); strings.Contains(out, "NotReady") {
		t.Errorf("kubectl get node: %q", out)
	}

	if err := os.Remove(k.faultFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the taint gone and the new pod Running", func() (bool, string) {
		n, err := cluster.client.CoreV1().Nodes().Get(context.Background(), k.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "newcomer", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		taint := hasTaint(n, "faas-kubelet.io/cloud-unreachable", corev1.TaintEffectNoSchedule)
		return !taint && p.Status.Phase == corev1.PodRunning, fmt.Sprintf("taint=%v newcomer=%s", taint, p.Status.Phase)
	})
}

func nodeCondition(n *corev1.Node, t string) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if string(n.Status.Conditions[i].Type) == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// The namespace is the trust boundary: a pod may name the role its
// namespace is granted, and is refused, naming the annotation, when it
// names another namespace's.
func TestNamespaceIsTheIdentityBoundary(t *testing.T) {
	c := clouds[0]
	// Named before the node starts, created after: a namespace's cleanup
	// waits for its pods while the node still runs.
	a, b := namespaceName(), namespaceName()+"1"
	emu, _ := c.startWith(t, fmt.Sprintf("  podIdentity:\n    allow:\n    - {namespace: %s, roles: [\"arn:aws:iam::123456789012:role/team-a\"]}\n    - {namespace: %s, roles: [\"arn:aws:iam::123456789012:role/team-b\"]}\n", a, b))
	namespaceNamed(t, a)
	namespaceNamed(t, b)
	for name, role := range map[string]string{"own": "team-a", "other": "team-b"} {
		applyYAML(t, a, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, annotations: {faas-kubelet.io/role-arn: "arn:aws:iam::123456789012:role/%s"}}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  containers:
  - {name: app, image: %s}
`, name, role, c.image))
	}
	eventually(t, 60*time.Second, "pod own Running, pod other Failed InvalidSpec naming the annotation", func() (bool, string) {
		own, err1 := cluster.client.CoreV1().Pods(a).Get(context.Background(), "own", metav1.GetOptions{})
		other, err2 := cluster.client.CoreV1().Pods(a).Get(context.Background(), "other", metav1.GetOptions{})
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(err1, err2)
		}
		return own.Status.Phase == corev1.PodRunning && other.Status.Phase == corev1.PodFailed && other.Status.Reason == "InvalidSpec" &&
				strings.Contains(other.Status.Message, "metadata.annotations[faas-kubelet.io/role-arn]"),
			fmt.Sprintf("own=%s other=%s %s %q", own.Status.Phase, other.Status.Phase, other.Status.Reason, other.Status.Message)
	})
	own, _ := cluster.client.CoreV1().Pods(a).Get(context.Background(), "own", metav1.GetOptions{})
	fn, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(functionNameOf(own))})
	if err != nil {
		t.Fatal(err)
	}
	if role := aws.ToString(fn.Configuration.Role); role != "arn:aws:iam::123456789012:role/team-a" {
		t.Errorf("pod own's function runs as %s", role)
	}
	if n := len(c.functions(t, emu)); n != 1 {
		t.Errorf("%d functions, want only pod own's", n)
	}
}
