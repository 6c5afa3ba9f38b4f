package apiserver

import (
	"bytes"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestCreatedKeyTellsApart: objects that encode to the same protobuf but not to the
// same JSON (nil or empty where JSON writes null for nil, a zero time or the epoch)
// get different keys, so the cache of created fields does not hand one the other's.
func TestCreatedKeyTellsApart(t *testing.T) {
	pods := func(edit func(p *corev1.Pod, empty bool)) [2]runtime.Object {
		var out [2]runtime.Object
		for i := range out {
			p := benchPod()
			edit(p, i == 1)
			out[i] = p
		}
		return out
	}
	events := [2]runtime.Object{&corev1.Event{}, &corev1.Event{FirstTimestamp: metav1.Unix(0, 0)}}
	micro := [2]runtime.Object{&corev1.Event{}, &corev1.Event{EventTime: metav1.NewMicroTime(metav1.Unix(0, 0).Time)}}
	for name, tc := range map[string]struct {
		res  string
		objs [2]runtime.Object
	}{
		"containers": {"pods", pods(func(p *corev1.Pod, empty bool) {
			p.Spec.Containers = nil
			if empty {
				p.Spec.Containers = []corev1.Container{}
			}
		})},
		"projected sources": {"pods", pods(func(p *corev1.Pod, empty bool) {
			src := &corev1.ProjectedVolumeSource{}
			if empty {
				src.Sources = []corev1.VolumeProjection{}
			}
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: src}}}
		})},
		"node selector terms": {"pods", pods(func(p *corev1.Pod, empty bool) {
			sel := &corev1.NodeSelector{}
			if empty {
				sel.NodeSelectorTerms = []corev1.NodeSelectorTerm{}
			}
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}}
		})},
		"time":       {"events", events},
		"micro time": {"events", micro},
	} {
		r := resourceFor(coreV1.WithResource(tc.res).GroupResource())
		var a, b bytes.Buffer
		ka, kb := createdKey(&a, r, tc.objs[0]), createdKey(&b, r, tc.objs[1])
		if ka == nil || kb == nil || bytes.Equal(ka, kb) {
			t.Errorf("%s: keys %q and %q", name, ka, kb)
		}
	}
}

// TestProtoKeyTypes: which types take the protobuf key. A type whose maps hold what
// protobuf cannot tell apart, a recursive one, or one with a field protobuf does not
// have, keeps its JSON.
func TestProtoKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		obj  runtime.Object
		want bool
	}{
		{&corev1.Pod{}, true}, {&corev1.Service{}, true}, {&corev1.Event{}, true},
		{&corev1.ConfigMap{}, false}, {&corev1.Secret{}, false}, // map[string][]byte
		{&apiextv1.CustomResourceDefinition{}, false}, // its schema is recursive
		// Its claim templates' TypeMeta is in JSON, not in protobuf.
		{&appsv1.StatefulSet{}, false},
		{&appsv1.Deployment{}, true},
	} {
		var buf bytes.Buffer
		if got := appendProtoKey(&buf, tc.obj); got != tc.want {
			t.Errorf("%T: %v, want %v", tc.obj, got, tc.want)
		}
	}
}
