package translate

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

var goldenNow = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

// goldenOutput is what a pod translates to: the function (or the refusal)
// and the status the pod reports in each function state.
type goldenOutput struct {
	Function *Function                   `json:"function,omitempty"`
	Error    string                      `json:"error,omitempty"`
	Status   map[string]corev1.PodStatus `json:"status,omitempty"`
}

// TestGoldenTranslation reads testdata/*.input.yaml (pods) and compares the
// translation with *.output.yaml; run with -update to rewrite them.
func TestGoldenTranslation(t *testing.T) {
	golden.EachPod(t, func(t *testing.T, _ string, pod *corev1.Pod) any {
		out := goldenOutput{}
		fn, err := FromPod(pod, "vk-lambda", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/from-sa"})
		if err != nil {
			out.Error = err.Error()
			return out
		}
		out.Function = fn
		created := goldenNow.Add(-time.Minute)
		host := Host{Cloud: "aws-lambda", IP: "10.0.0.7"}
		arn := "arn:aws:lambda:us-east-1:123456789012:function:" + fn.Name
		out.Status = map[string]corev1.PodStatus{
			"pending": PodStatus(pod, &FunctionState{Name: fn.Name, Phase: PhasePending, Message: "The function is being created."}, host, goldenNow),
			"active":  PodStatus(pod, &FunctionState{Name: fn.Name, ID: arn, Phase: PhaseActive, ImageID: "sha256:abc", Created: created}, host, goldenNow),
			"failed":  PodStatus(pod, &FunctionState{Name: fn.Name, Phase: PhaseFailed, Reason: "ImageAccessDenied", Message: "Lambda does not have permission to access the ECR image.", Created: created}, host, goldenNow),
		}
		out.Status["refused"] = PodStatus(pod, &FunctionState{Name: fn.Name, Phase: PhasePending, NotCreated: true, Reason: "FunctionRoleError", Message: "lambda CreateFunction: The role defined for the function cannot be assumed by Lambda."}, host, goldenNow)
		running := pod.DeepCopy()
		running.Status = out.Status["active"]
		out.Status["deleted"] = TerminatedStatus(running, goldenNow.Add(time.Minute))
		if IsJob(pod) {
			out.Status["jobSucceeded"] = PodStatus(pod, &FunctionState{Name: fn.Name, Phase: PhaseActive, Created: created, Job: Job{State: JobSucceeded}}, host, goldenNow)
			out.Status["jobFailed"] = PodStatus(pod, &FunctionState{Name: fn.Name, Phase: PhaseActive, Created: created, Job: Job{State: JobFailed, Message: "EmulatedError: boom", Restarts: 2}}, host, goldenNow)
		}
		return out
	})
}

func TestDescriptionRoundTrip(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name, pod.UID = "ns", "p", "u-1"
	got, ok := ParseDescription(Description(pod, "vk"))
	if !ok || got[TagPodUID] != "u-1" || got[TagNode] != "vk" || got[TagPodNamespace] != "ns" || got[TagPodName] != "p" {
		t.Errorf("round trip = %v %v", got, ok)
	}
	for _, bad := range []string{"", "hello", "faas-kubelet pod ns/p uid= node=vk", "faas-kubelet pod nsp uid=u node=vk"} {
		if _, ok := ParseDescription(bad); ok {
			t.Errorf("ParseDescription(%q) accepted", bad)
		}
	}
}

// A pod whose name makes the description longer than a cloud takes keeps
// its UID and node in it, and the function is still known as its own.
func TestDescriptionOfALongNamedPod(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name, pod.UID = strings.Repeat("n", 63), strings.Repeat("p", 240)+".x-1", "0f6c1e5a-1111-4a5b-9c3d-000000000001"
	node := "faas-kubelet-aws-lambda-us-east-1"
	d := Description(pod, node)
	if len(d) > MaxDescription {
		t.Fatalf("description of %d characters, more than %d: %q", len(d), MaxDescription, d)
	}
	owner, ok := ParseDescription(d)
	if !ok || owner[TagPodUID] != string(pod.UID) || owner[TagNode] != node || owner[TagPodNamespace] != pod.Namespace {
		t.Fatalf("ParseDescription(%q) = %v, %v; want the UID, node and namespace", d, owner, ok)
	}
	if name, ok := owner[TagPodName]; ok {
		t.Errorf("a cut description reads as pod name %q", name)
	}
	if !NamedFor(FunctionName(pod), owner) {
		t.Errorf("the pod's function %s is not known as named for %v", FunctionName(pod), owner)
	}
	other := pod.DeepCopy()
	other.UID = "another-uid"
	if NamedFor(FunctionName(other), owner) {
		t.Errorf("another pod's function %s is known as named for %v", FunctionName(other), owner)
	}
	// A name that fits keeps the first form, which earlier releases read.
	pod.Name = "web-7d9c"
	if d := Description(pod, node); !strings.HasPrefix(d, "faas-kubelet pod ") {
		t.Errorf("short description %q", d)
	}
	if owner, _ := ParseDescription(Description(pod, node)); !NamedFor(FunctionName(pod), owner) {
		t.Errorf("short description's owner %v", owner)
	}
	for _, bad := range []string{"faas-kubelet uid= node=vk pod=a/b", "faas-kubelet uid=u node= pod=a/b", "faas-kubelet uid=u node=vk", "faas-kubelet uid=u node=vk pod=ab"} {
		if _, ok := ParseDescription(bad); ok {
			t.Errorf("ParseDescription(%q) accepted", bad)
		}
	}
}

// A sealed description keeps its owner, carries the spec digest within the
// length a cloud takes, and unseals to what it was.
func TestSealedDescription(t *testing.T) {
	const digest = "v1-AbCdEfGhIjKlMnOpQrStUv"
	for _, name := range []string{"web-7d9c", strings.Repeat("p", 150), strings.Repeat("p", 240) + ".x-1"} {
		pod := &corev1.Pod{}
		pod.Namespace, pod.Name, pod.UID = "team-a", name, "0f6c1e5a-1111-4a5b-9c3d-000000000001"
		d := Description(pod, "faas-kubelet-aws-lambda-us-east-1")
		want, _ := ParseDescription(d)
		s := SealDescription(d, digest)
		if len(s) > MaxDescription {
			t.Errorf("sealed description of %d characters: %q", len(s), s)
		}
		got, ok := ParseDescription(s)
		if !ok || got[SpecDigestKey] != digest {
			t.Fatalf("ParseDescription(%q) = %v, %v; want digest %s", s, got, ok, digest)
		}
		delete(got, SpecDigestKey)
		if got[TagPodUID] != want[TagPodUID] || got[TagNode] != want[TagNode] || got[TagPodNamespace] != want[TagPodNamespace] {
			t.Errorf("sealed %q reads as %v, unsealed as %v", s, got, want)
		}
		if n, ok := got[TagPodName]; ok && n != name {
			t.Errorf("sealed %q names pod %q", s, n)
		}
		if !NamedFor(FunctionName(pod), got) {
			t.Errorf("sealed %q: the function is not known as the pod's", s)
		}
		if again := SealDescription(s, digest); again != s {
			t.Errorf("sealing twice: %q, then %q", s, again)
		}
		u := UnsealDescription(s)
		if o, _ := ParseDescription(u); o[SpecDigestKey] != "" || o[TagPodUID] != want[TagPodUID] {
			t.Errorf("UnsealDescription(%q) = %q, which reads as %v", s, u, o)
		}
		if len(d) <= MaxDescription-len(" spec=")-len(digest) && u != d {
			t.Errorf("UnsealDescription(%q) = %q, want %q", s, u, d)
		}
	}
	for _, bad := range []string{"faas-kubelet pod ns/p uid=u node=vk spec=", "faas-kubelet pod ns/p uid=u node=vk other=x", "faas-kubelet uid=u node=vk spec= pod=a/b"} {
		if _, ok := ParseDescription(bad); ok {
			t.Errorf("ParseDescription(%q) accepted", bad)
		}
	}
}
