package node

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

func tokenPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", UID: "uid-1",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			},
			Containers: []corev1.Container{{Name: "fn", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1",
				Env:          []corev1.EnvVar{{Name: "A", Value: "b"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x7k2p", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
		},
	}
}

// The pod cache drops what a function never uses, and the translation of a
// cached pod is the translation of the pod the API server sent.
func TestSlimPodKeepsTheTranslation(t *testing.T) {
	pod := tokenPod()
	want, err := translate.FromPod(pod.DeepCopy(), "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := slimPod(pod)
	if err != nil {
		t.Fatal(err)
	}
	slim := obj.(*corev1.Pod)
	if slim.ManagedFields != nil || slim.Spec.Volumes != nil || slim.Spec.Containers[0].VolumeMounts != nil {
		t.Errorf("cached pod keeps managedFields %v, volumes %v, mounts %v", slim.ManagedFields, slim.Spec.Volumes, slim.Spec.Containers[0].VolumeMounts)
	}
	got, err := translate.FromPod(slim, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("translation changed:\n got %+v\nwant %+v", got, want)
	}
}

// Volumes a function cannot mount stay in the cache, so the pod is still
// refused naming them, at the index the user's pod has them (the
// ServiceAccount admission plugin appends the token volume after them).
func TestSlimPodKeepsOtherVolumes(t *testing.T) {
	pod := tokenPod()
	pod.Spec.Volumes = append([]corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, pod.Spec.Volumes...)
	pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	obj, _ := slimPod(pod)
	_, err := translate.FromPod(obj.(*corev1.Pod), "vk", nil)
	if err == nil || err.Error() != `spec.volumes[0].emptyDir: functions cannot mount volumes (volume "data")` {
		t.Errorf("err = %v", err)
	}
}

// A new version of a cached pod shares the parts that did not change with
// the version it replaces, and only those; another pod of the same name
// (a new UID) shares nothing.
func TestPodCacheSharesUnchangedParts(t *testing.T) {
	var c podCache
	c.store = cache.NewStore(cache.MetaNamespaceKeyFunc)
	add := func(p *corev1.Pod) *corev1.Pod {
		t.Helper()
		out, err := c.transform(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.store.Add(out); err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.Pod)
	}
	first := tokenPod()
	first.Labels = map[string]string{"app": "hello"}
	v1 := add(first)

	second := tokenPod() // decoded again: equal, not the same memory
	second.Labels = map[string]string{"app": "hello", "tier": "web"}
	second.Status.Phase = corev1.PodRunning
	v2 := add(second)
	if &v2.Spec.Containers[0] != &v1.Spec.Containers[0] {
		t.Error("unchanged spec not shared with the previous version")
	}
	if len(v2.Labels) != 2 || len(v1.Labels) != 1 {
		t.Errorf("changed labels: previous %v, new %v", v1.Labels, v2.Labels)
	}
	if v2.Status.Phase != corev1.PodRunning || v1.Status.Phase != "" {
		t.Errorf("status: previous %q, new %q", v1.Status.Phase, v2.Status.Phase)
	}

	third := tokenPod()
	third.Spec.Containers[0].Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:2"
	v3 := add(third)
	if v3.Spec.Containers[0].Image == v2.Spec.Containers[0].Image || &v3.Spec.Containers[0] == &v2.Spec.Containers[0] {
		t.Error("a changed spec was replaced by the previous one")
	}

	other := tokenPod()
	other.UID = "uid-2"
	v4 := add(other)
	if &v4.Spec.Containers[0] == &v3.Spec.Containers[0] {
		t.Error("a new pod of the same name shares the old pod's spec")
	}
}
