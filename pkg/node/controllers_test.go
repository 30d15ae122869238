package node

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
