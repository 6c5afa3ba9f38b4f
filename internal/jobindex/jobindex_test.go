package jobindex

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func TestParseAndFormat(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		has     []int
	}{
		{"", "", nil},
		{"0,1", "0,1", []int{0, 1}},
		{"0-2,4", "0-2,4", []int{0, 1, 2, 4}},
		{"3,1,2", "1-3", []int{1, 2, 3}},
		{"x,5,7-y", "5", []int{5}}, // what cannot be read is skipped
	} {
		got := Parse(tc.in)
		if !got.Equal(sets.New(tc.has...)) {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, sets.List(got), tc.has)
		}
		if f := Format(got); f != tc.out {
			t.Errorf("Format(Parse(%q)) = %q, want %q", tc.in, f, tc.out)
		}
	}
}

func TestOf(t *testing.T) {
	pod := func(v string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: v}}}
	}
	if ix, ok := Of(pod("3")); !ok || ix != 3 {
		t.Errorf("Of(3) = %d %v", ix, ok)
	}
	for _, bad := range []string{"", "-1", "a"} {
		if _, ok := Of(pod(bad)); ok {
			t.Errorf("Of(%q) is an index", bad)
		}
	}
	if _, ok := Of(&corev1.Pod{}); ok {
		t.Error("a pod without the annotation has an index")
	}
}
