package printers

import (
	"encoding/json"
	"testing"

	fuzz "github.com/google/gofuzz"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestRandomObjectsPrint prints random objects of every kind: no panics, one cell per
// column, JSON-encodable cells.
func TestRandomObjectsPrint(t *testing.T) {
	f := fuzz.NewWithSeed(3).NilChance(0.3).NumElements(0, 5).Funcs(
		func(v *intstr.IntOrString, c fuzz.Continue) { *v = intstr.FromInt32(c.Int31()) },
	)
	kinds := map[schema.GroupResource]func() runtime.Object{
		{Resource: "pods"}:                                      func() runtime.Object { return &corev1.Pod{} },
		{Group: "apps", Resource: "replicasets"}:                func() runtime.Object { return &appsv1.ReplicaSet{} },
		{Group: "apps", Resource: "deployments"}:                func() runtime.Object { return &appsv1.Deployment{} },
		{Resource: "services"}:                                  func() runtime.Object { return &corev1.Service{} },
		{Resource: "endpoints"}:                                 func() runtime.Object { return &corev1.Endpoints{} },
		{Group: "discovery.k8s.io", Resource: "endpointslices"}: func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		{Resource: "nodes"}:                                     func() runtime.Object { return &corev1.Node{} },
		{Resource: "namespaces"}:                                func() runtime.Object { return &corev1.Namespace{} },
		{Resource: "events"}:                                    func() runtime.Object { return &corev1.Event{} },
		{Resource: "configmaps"}:                                func() runtime.Object { return &corev1.ConfigMap{} },
		{Resource: "secrets"}:                                   func() runtime.Object { return &corev1.Secret{} },
		{Resource: "serviceaccounts"}:                           func() runtime.Object { return &corev1.ServiceAccount{} },
	}
	for gr, newObj := range kinds {
		cols := len(Columns(gr))
		for i := 0; i < 300; i++ {
			obj := newObj()
			f.Fuzz(obj)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s #%d: panic: %v", gr, i, p)
					}
				}()
				cells := Cells(obj, now)
				if len(cells) != cols {
					t.Fatalf("%s #%d: %d cells for %d columns", gr, i, len(cells), cols)
				}
				if _, err := json.Marshal(metav1.TableRow{Cells: cells}); err != nil {
					t.Fatalf("%s #%d: %v", gr, i, err)
				}
			}()
		}
	}
}
