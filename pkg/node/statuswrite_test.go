package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// A status written from a pod reported before a label, an annotation or a
// finalizer was added keeps them: only the status changes.
func TestStatusWritesKeepTheMetadataOthersSet(t *testing.T) {
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7",
		Labels:      map[string]string{"app": "web", "role": "web"},
		Annotations: map[string]string{"faas-kubelet.io/function-url": "https://u", "team": "a"},
		Finalizers:  []string{"example.com/keep"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	client := fake.NewSimpleClientset(live.DeepCopy())
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(live.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer)}

	// What the provider reported: the pod as it was when it took it.
	reported := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7",
		Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}}
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), reported, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.0.0.1" {
		t.Errorf("status written: %+v; want Running with the pod's IP", got.Status)
	}
	if got.Labels["role"] != "web" || got.Annotations["team"] != "a" || got.Annotations["faas-kubelet.io/function-url"] != "https://u" || len(got.Finalizers) != 1 {
		t.Errorf("after the status write: labels %v, annotations %v, finalizers %v; want them as others set them", got.Labels, got.Annotations, got.Finalizers)
	}
	if _, ok := reported.Labels["role"]; ok {
		t.Errorf("the reported pod was changed: labels %v", reported.Labels)
	}
}

// A pod the cache does not have, or has as another pod of the same name,
// is written as reported.
func TestStatusWritesOfAnotherPodAreLeftAlone(t *testing.T) {
	client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u2", Labels: map[string]string{"gen": "2"}}})
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", Labels: map[string]string{"gen": "1"}}}); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer)}
	reported := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u2", Labels: map[string]string{"gen": "2"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), reported, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Pods("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if got.Labels["gen"] != "2" || got.Status.Phase != corev1.PodRunning {
		t.Errorf("pod written: labels %v, phase %s; want the reported pod's", got.Labels, got.Status.Phase)
	}
}

// A status the API server already has (as the cache shows it) is not
// written again: a restart adopting running pods writes nothing for them.
func TestUnchangedStatusIsNotWritten(t *testing.T) {
	started := metav1.NewTime(metav1.Now().Rfc3339Copy().Time)
	status := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7"}, Status: *status.DeepCopy()}
	client := fake.NewSimpleClientset(live.DeepCopy())
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(live.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer)}
	client.ClearActions()
	reported := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1"}, Status: *status.DeepCopy()}
	got, err := w.Pods("ns").UpdateStatus(context.Background(), reported, metav1.UpdateOptions{})
	if err != nil || got.Status.Phase != corev1.PodRunning {
		t.Fatalf("UpdateStatus = %+v, %v; want the pod as it is", got, err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("%d calls to the API server for an unchanged status: %v", n, client.Actions())
	}
	reported.Status.ContainerStatuses[0].Ready = false
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), reported, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 1 {
		t.Errorf("%d calls for a changed status, want 1", n)
	}
}

// A condition another controller wrote after the provider's report (here
// a readiness gate's and DisruptionTarget) is in the status written, and
// Ready follows the gate that turned True, as the kubelet merges them
// just before its write.
func TestStatusWritesKeepConditionsWrittenAfterTheReport(t *testing.T) {
	before := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	now := before.Add(time.Minute)
	gate := corev1.PodConditionType("example.com/load-balancer")
	ours := func(ready corev1.ConditionStatus) []corev1.PodCondition {
		var cs []corev1.PodCondition
		for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodScheduled} {
			cs = append(cs, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: before})
		}
		return append(cs, corev1.PodCondition{Type: corev1.PodReady, Status: ready, LastTransitionTime: before})
	}
	spec := corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gate}}}
	// What the API server has now: the gate True and a DisruptionTarget,
	// both written after the provider reported the pod.
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "9"}, Spec: spec,
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: append([]corev1.PodCondition{
			{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: before},
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", LastTransitionTime: before},
		}, ours(corev1.ConditionFalse)...)}}
	client := fake.NewSimpleClientset(live.DeepCopy())
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(live.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer), now: func() time.Time { return now }}

	// The provider's report, made before either was written.
	reported := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7"}, Spec: spec,
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: ours(corev1.ConditionFalse)}}
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), reported, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range got.Status.Conditions {
		byType[c.Type] = c
	}
	if c := byType[gate]; c.Status != corev1.ConditionTrue {
		t.Errorf("readiness gate after the write: %+v; want it True as its owner wrote it", c)
	}
	if c := byType[corev1.DisruptionTarget]; c.Status != corev1.ConditionTrue || c.Reason != "EvictionByEvictionAPI" {
		t.Errorf("DisruptionTarget after the write: %+v; want it as the eviction wrote it", c)
	}
	if c := byType[corev1.PodReady]; c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(now) {
		t.Errorf("Ready after the write: %+v; want True since %v (the gate is True)", c, now)
	}
	if got.Status.PodIP != "10.0.0.1" {
		t.Errorf("pod IP %q; want the reported 10.0.0.1", got.Status.PodIP)
	}
	if len(reported.Status.Conditions) != 5 {
		t.Errorf("the reported pod was changed: %v", reported.Status.Conditions)
	}
}
