package provider

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// listingBackend is a backend whose last listing vouches for the functions
// in listed (see ListingAdopter).
type listingBackend struct {
	*fakeBackend
	listed map[string]bool
	asked  []string
	sealed []string
}

func (l *listingBackend) Seal(_ context.Context, fn *translate.Function) error {
	l.sealed = append(l.sealed, fn.Name)
	return nil
}

func (l *listingBackend) AdoptListed(fn *translate.Function) (*translate.FunctionState, bool) {
	l.asked = append(l.asked, fn.Name)
	if !l.listed[fn.Name] {
		return nil, false
	}
	delete(l.listed, fn.Name)
	return &translate.FunctionState{Name: fn.Name, ID: "arn:" + fn.Name, Phase: translate.PhaseActive}, true
}

// A restart adopts the functions of Running pods from the listing, with no
// deployment, and deploys as before every pod the listing cannot speak for:
// one that was not Running, a run-once pod (its progress is in tags), one
// with a port whose URL the pod does not show, one the listing does not
// vouch for.
func TestRestartAdoptsFromTheListing(t *testing.T) {
	running := func(p *corev1.Pod) *corev1.Pod { p.Status.Phase = corev1.PodRunning; return p }
	withPort := func(p *corev1.Pod, url string) *corev1.Pod {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		if url != "" {
			p.Annotations = map[string]string{AnnotationFunctionURL: url}
		}
		return p
	}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		vouched bool
		adopted bool
	}{
		{"running and listed", running(newPod("u-1", "web-1")), true, true},
		{"running with its URL shown", withPort(running(newPod("u-2", "web-2")), "https://fn.example/"), true, true},
		{"running, URL not shown", withPort(running(newPod("u-3", "web-3")), ""), true, false},
		{"not running", newPod("u-4", "web-4"), true, false},
		{"run-once", running(jobPod("u-5", corev1.RestartPolicyNever)), true, false},
		{"not vouched for", running(newPod("u-6", "web-6")), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := translate.FunctionName(tc.pod)
			b := &listingBackend{fakeBackend: &fakeBackend{}, listed: map[string]bool{name: tc.vouched}}
			p, _ := newProvider(t, Limit(b, Limits{}))
			if err := p.CreatePod(context.Background(), tc.pod); err != nil {
				t.Fatal(err)
			}
			b.mu.Lock()
			deployed := len(b.deployed)
			b.mu.Unlock()
			if tc.adopted != (deployed == 0) {
				t.Errorf("deployed %d times; want adopted from the listing: %v", deployed, tc.adopted)
			}
			got, err := p.GetPod(context.Background(), tc.pod.Namespace, tc.pod.Name)
			if err != nil {
				t.Fatal(err)
			}
			if tc.adopted {
				cs := got.Status.ContainerStatuses
				if got.Status.Phase != corev1.PodRunning || len(cs) != 1 || !cs[0].Ready || cs[0].ContainerID == "" {
					t.Errorf("adopted pod's status = %+v", got.Status)
				}
				if url := tc.pod.Annotations[AnnotationFunctionURL]; url != "" && got.Annotations[AnnotationFunctionURL] != url {
					t.Errorf("adopted pod shows URL %q, want %q", got.Annotations[AnnotationFunctionURL], url)
				}
			}
		})
	}
}

// A function a restart found whole as its pod asks, but whose listing entry
// does not vouch for it, is sealed, so that the next restart adopts it from
// the listing; a new pod's function, or a run-once pod's, is not.
func TestRestartSealsWhatItFoundWhole(t *testing.T) {
	running := func(p *corev1.Pod) *corev1.Pod { p.Status.Phase = corev1.PodRunning; return p }
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		sealed bool
	}{
		{"restart", running(newPod("u-1", "web-1")), true},
		{"new pod", newPod("u-2", "web-2"), false},
		{"run-once", running(jobPod("u-3", corev1.RestartPolicyNever)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &listingBackend{fakeBackend: &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
				return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Unsealed: true}, nil
			}}}
			p, _ := newProvider(t, Limit(b, Limits{}))
			if err := p.CreatePod(context.Background(), tc.pod); err != nil {
				t.Fatal(err)
			}
			if got := len(b.sealed) == 1; got != tc.sealed {
				t.Errorf("sealed %v; want sealed: %v", b.sealed, tc.sealed)
			}
		})
	}
}
