package replicaset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
)

// Source is where the controller's ReplicaSets come from: the API's ReplicaSets, or
// objects of another kind seen as ReplicaSets. kube-controller-manager's replication
// controller is this same controller behind such a conversion (package replication).
type Source interface {
	// Kind is the owner kind on the pods, in owner references and Events.
	Kind() schema.GroupVersionKind
	// Component names the controller in Events, logs and the work queue.
	Component() string
	// Informer delivers the objects; handlers only take their namespace/name keys.
	Informer() cache.SharedIndexInformer
	// Get and List read the informer's cache.
	Get(ns, name string) (*appsv1.ReplicaSet, error)
	List(ns string) ([]*appsv1.ReplicaSet, error)
	// Fetch reads the API server (to recheck an owner before adopting).
	Fetch(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error)
	UpdateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// EventObject is what an Event about rs is about (the object of Kind).
	EventObject(rs *appsv1.ReplicaSet) runtime.Object
}

// replicaSets is the Source of the API's own ReplicaSets.
type replicaSets struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	lister appslisters.ReplicaSetLister
}

func newReplicaSets(client kubernetes.Interface, f informers.SharedInformerFactory) *replicaSets {
	i := f.Apps().V1().ReplicaSets()
	return &replicaSets{client: client, inf: i.Informer(), lister: i.Lister()}
}

func (s *replicaSets) Kind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}
func (s *replicaSets) Component() string                   { return Component }
func (s *replicaSets) Informer() cache.SharedIndexInformer { return s.inf }

func (s *replicaSets) Get(ns, name string) (*appsv1.ReplicaSet, error) {
	return s.lister.ReplicaSets(ns).Get(name)
}

func (s *replicaSets) List(ns string) ([]*appsv1.ReplicaSet, error) {
	return s.lister.ReplicaSets(ns).List(labels.Everything())
}

func (s *replicaSets) Fetch(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	return s.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s *replicaSets) UpdateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return s.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
}

func (s *replicaSets) EventObject(rs *appsv1.ReplicaSet) runtime.Object { return rs }
