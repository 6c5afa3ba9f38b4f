package apiserver

import (
	"bytes"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/defaulting"
)

// TestWithResourceVersion: the JSON a write's answer, watchers and lists send is made
// from the bytes stored; for every stored kind it must be exactly json.Marshal's.
func TestWithResourceVersion(t *testing.T) {
	tricky := &corev1.ConfigMap{Data: map[string]string{"x": `"uid":"u-1","metadata":{`}}
	objs := []runtime.Object{tricky, fullPod()}
	for _, r := range resourceTable {
		if !r.review {
			objs = append(objs, r.newObj())
		}
	}
	for _, obj := range objs {
		m := mustMeta(obj)
		m.SetName("n")
		m.SetNamespace("ns")
		m.SetUID(types.UID("u-1"))
		m.SetGeneration(3)
		m.SetLabels(map[string]string{"uid": "u-1"})
		m.SetCreationTimestamp(metav1.Unix(1700000000, 0))
		stored, err := encodeForStore(obj)
		if err != nil {
			t.Fatal(err)
		}
		setRV(obj, 1234)
		want, _ := json.Marshal(obj)
		if got := withResourceVersion(stored, m); !bytes.Equal(got, want) {
			t.Errorf("%T:\n got  %s\n want %s", obj, got, want)
		}
	}
	// Without a uid to find, it declines (the caller encodes instead).
	pod := fullPod()
	stored, _ := encodeForStore(pod)
	setRV(pod, 5)
	if got := withResourceVersion(stored, pod); got != nil {
		t.Errorf("no uid: got %s, want nil", got)
	}
}

func fullPod() *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Annotations: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	defaulting.PrepareForCreate(pod)
	defaulting.Default(pod)
	mountAPIAccess(pod)
	return pod
}
