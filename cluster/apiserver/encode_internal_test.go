package apiserver

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// TestEncodeForStoreIsMarshal: encodeForStore splices managedFields' FieldsV1 into the
// encoding instead of letting json.Marshal scan them; the bytes must stay exactly
// json.Marshal's, for every stored kind and for FieldsV1 it must not splice.
func TestEncodeForStoreIsMarshal(t *testing.T) {
	at := metav1.Unix(1700000000, 0)
	entry := func(raw string) metav1.ManagedFieldsEntry {
		e := metav1.ManagedFieldsEntry{Manager: "m", Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: "v1", Time: &at, FieldsType: "FieldsV1"}
		if raw != "-" {
			e.FieldsV1 = &metav1.FieldsV1{Raw: []byte(raw)}
		}
		return e
	}
	plain := `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{}}}}`
	cases := map[string][]metav1.ManagedFieldsEntry{
		"none":        nil,
		"one":         {entry(plain)},
		"several":     {entry(plain), entry("-"), entry(`{"f:data":{}}`), entry(`{}`)},
		"spaces":      {entry(plain), entry(`{"f:data": {}}`)},
		"newline":     {entry("{\"f:data\":{}}\n")},
		"html":        {entry(`{"f:metadata":{"f:annotations":{"f:a<b&c>":{}}}}`)},
		"u2028":       {entry("{\"f:metadata\":{\"f:labels\":{\"f:\u2028\":{}}}}")},
		"not object":  {entry(`null`)},
		"nil raw":     {{Manager: "m", FieldsV1: &metav1.FieldsV1{}}},
		"escaped key": {entry(`{"f:metadata":{"f:annotations":{"f:\"fieldsV1\":0":{}}}}`)},
	}
	for name, entries := range cases {
		objs := []runtime.Object{fullPod(), storedPod()}
		for _, r := range resourceTable {
			if !r.review && r.custom == nil {
				objs = append(objs, r.newObj())
			}
		}
		for _, obj := range objs {
			m := mustMeta(obj)
			m.SetName("n")
			m.SetUID(types.UID("u-1"))
			// Text like the placeholder's where a string may hold it.
			m.SetLabels(map[string]string{"managedFields": "[", "fieldsV1": "0"})
			m.SetAnnotations(map[string]string{`"managedFields":[`: `"fieldsV1":0`})
			m.SetFinalizers([]string{`"fieldsV1":0`})
			m.SetManagedFields(entries)
			setRV(obj, 77)
			spliced := name == "one" || name == "several" || name == "escaped key"
			if _, ok, _ := encodeSplicingFields(obj, m); ok != spliced {
				t.Errorf("%s %T: spliced %v, want %v", name, obj, ok, spliced)
			}
			setRV(obj, 77)
			before := append([]metav1.ManagedFieldsEntry(nil), m.GetManagedFields()...)
			got, err := encodeForStore(obj)
			if err != nil {
				t.Fatalf("%s %T: %v", name, obj, err)
			}
			if m.GetResourceVersion() != "77" || !reflect.DeepEqual(m.GetManagedFields(), before) {
				t.Fatalf("%s %T: object changed: rv %q, managedFields %v", name, obj, m.GetResourceVersion(), m.GetManagedFields())
			}
			m.SetResourceVersion("")
			want, _ := json.Marshal(obj)
			if !bytes.Equal(got, want) {
				t.Errorf("%s %T:\n got  %s\n want %s", name, obj, got, want)
			}
		}
	}
}
