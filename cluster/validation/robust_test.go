package validation

import (
	"fmt"
	"math/rand"
	"testing"

	fuzz "github.com/google/gofuzz"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/cluster/defaulting"
)

// TestRandomObjectsNeverPanic feeds random objects of every kind through Default,
// ValidateCreate and ValidateUpdate: whatever a client sends, the API server must answer
// with field errors, never crash. Default must also be idempotent.
func TestRandomObjectsNeverPanic(t *testing.T) {
	f := fuzz.NewWithSeed(1).NilChance(0.3).NumElements(0, 3).Funcs(
		// IntOrString's Type must be one of its two kinds, as decoding guarantees.
		func(v *intstr.IntOrString, c fuzz.Continue) {
			if c.RandBool() {
				*v = intstr.FromInt32(c.Int31n(70000) - 100)
			} else {
				*v = intstr.FromString(c.RandString())
			}
		},
	)
	kinds := []func() runtime.Object{
		func() runtime.Object { return &corev1.Pod{} },
		func() runtime.Object { return &corev1.Service{} },
		func() runtime.Object { return &corev1.Namespace{} },
		func() runtime.Object { return &corev1.Node{} },
		func() runtime.Object { return &corev1.Endpoints{} },
		func() runtime.Object { return &corev1.Event{} },
		func() runtime.Object { return &corev1.ConfigMap{} },
		func() runtime.Object { return &appsv1.ReplicaSet{} },
		func() runtime.Object { return &appsv1.Deployment{} },
		func() runtime.Object { return &discoveryv1.EndpointSlice{} },
	}
	r := rand.New(rand.NewSource(2))
	total := 0
	for _, newObj := range kinds {
		for i := 0; i < 300; i++ {
			obj := newObj()
			f.Fuzz(obj)
			name := fmt.Sprintf("%T #%d", obj, i)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s: panic: %v", name, p)
					}
				}()
				defaulting.Default(obj)
				again := obj.DeepCopyObject()
				defaulting.Default(again)
				if !equality.Semantic.DeepEqual(obj, again) {
					t.Fatalf("%s: Default is not idempotent", name)
				}
				total += len(ValidateCreate(obj))
				old := newObj()
				if r.Intn(2) == 0 {
					old = obj.DeepCopyObject()
				} else {
					f.Fuzz(old)
					defaulting.Default(old)
				}
				_ = ValidateUpdate(obj, old)
				_ = ValidateStatusUpdate(obj, old)
				if s, ok := obj.(*corev1.Service); ok {
					defaulting.DropTypeDependentFields(s, old.(*corev1.Service))
				}
			}()
		}
	}
	// Random objects are nearly all invalid; none would mean the fuzzer filled nothing.
	if total < 1000 {
		t.Fatalf("only %d errors from %d random objects", total, 300*len(kinds))
	}
}
