package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/defaulting"
)

func benchPod() *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	defaulting.PrepareForCreate(p)
	defaulting.Default(p)
	return p
}

func BenchmarkTrackCreate(b *testing.B) {
	r := resourceFor(coreV1.WithResource("pods").GroupResource())
	ctx := withWriter(context.Background(), writer{manager: "bench"})
	t0 := time.Now()
	trackCreate(ctx, r, benchPod())
	b.Logf("first: %v", time.Since(t0))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		trackCreate(ctx, r, benchPod())
	}
}

// TestCreatedEntryIsTheFieldManagers: the direct computation of a creator's entry is
// what the FieldManager records for the same create, for every kind of object tried.
func TestCreatedEntryIsTheFieldManagers(t *testing.T) {
	pod := benchPod()
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "side", Image: "busybox",
		Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		Env:   []corev1.EnvVar{{Name: "A", Value: "1"}}})
	pod.Annotations = map[string]string{"note": "x"}
	pod.Status.Phase = corev1.PodRunning // reset: nobody's
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}, Data: map[string]string{"a": "1"}}
	// The same pod under another name comes from the cache of created fields; one more
	// label makes another entry, not the cached one.
	again := pod.DeepCopy()
	again.Name, again.UID = "p2", "u2"
	labelled := pod.DeepCopy()
	labelled.Labels = map[string]string{"app": "bench", "tier": "web"}
	// Pairs that differ only in nil versus empty, or a zero time versus the epoch (createdKey
	// must tell them apart): each after the other, so a shared key would give the second the first's.
	noContainers, emptyContainers := pod.DeepCopy(), pod.DeepCopy()
	noContainers.Spec.Containers, emptyContainers.Spec.Containers = nil, []corev1.Container{}
	noSources, emptySources := pod.DeepCopy(), pod.DeepCopy()
	noSources.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}}
	emptySources.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{}}}}}
	event := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, Reason: "r"}
	epochEvent := event.DeepCopy()
	epochEvent.FirstTimestamp = metav1.Unix(0, 0)
	for _, tc := range []struct {
		res string
		obj runtime.Object
	}{{"pods", pod}, {"services", svc}, {"configmaps", cm}, {"pods", again}, {"pods", labelled},
		{"pods", noContainers}, {"pods", emptyContainers}, {"pods", noSources}, {"pods", emptySources},
		{"events", event}, {"events", epochEvent}} {
		r := resourceFor(coreV1.WithResource(tc.res).GroupResource())
		defaulting.Default(tc.obj)
		tc.obj.GetObjectKind().SetGroupVersionKind(r.gvk())
		mustMeta(tc.obj).SetCreationTimestamp(metav1.Now())
		fast, err := managers.createdEntry(r, tc.obj, "m")
		if err != nil {
			t.Fatal(err)
		}
		fm, err := managers.get(r, "")
		if err != nil {
			t.Fatal(err)
		}
		slow := mustMeta(fm.UpdateNoErrors(r.newObj(), tc.obj.DeepCopyObject(), "m")).GetManagedFields()
		if len(fast) != 1 || len(slow) != 1 || string(fast[0].FieldsV1.Raw) != string(slow[0].FieldsV1.Raw) ||
			fast[0].Manager != slow[0].Manager || fast[0].APIVersion != slow[0].APIVersion || fast[0].Operation != slow[0].Operation {
			t.Fatalf("%s:\ndirect       %+v\nFieldManager %+v", tc.res, fast, slow)
		}
	}
}

func BenchmarkTrackUpdate(b *testing.B) {
	r := resourceFor(coreV1.WithResource("pods").GroupResource())
	ctx := withWriter(context.Background(), writer{manager: "kubelet"})
	old := trackCreate(withWriter(context.Background(), writer{manager: "creator"}), r, benchPod())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := old.DeepCopyObject().(*corev1.Pod)
		next.Status.Phase = corev1.PodRunning
		next.Status.PodIP = "10.0.0.1"
		trackUpdate(ctx, r, "status", old, next)
	}
}
