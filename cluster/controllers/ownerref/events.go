package ownerref

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/controllers/expectations"
)

// Owners sends the events of owned objects (pods, ControllerRevisions) to the queue key
// of the controller object of kind Kind that owns them, as Kubernetes' workload
// controllers do: a pod's creation or deletion is noted in the expectations, and an
// orphan pod wakes every owner whose selector matches it (one of them may adopt it).
type Owners[T metav1.Object] struct {
	Kind     string
	Get      func(ns, name string) (T, error)
	List     func(ns string) ([]T, error)
	Selector func(T) *metav1.LabelSelector
	Queue    interface{ Add(string) }
	Exp      *expectations.Expectations
}

func key(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }

// Owner returns the owner controlling o, if it is still that object (same UID).
func (w Owners[T]) Owner(o metav1.Object) (T, bool) {
	var zero T
	ref := metav1.GetControllerOfNoCopy(o)
	if ref == nil || ref.Kind != w.Kind {
		return zero, false
	}
	owner, err := w.Get(o.GetNamespace(), ref.Name)
	if err != nil || owner.GetUID() != ref.UID {
		return zero, false
	}
	return owner, true
}

// PodHandlers are the pod informer's handlers.
func (w Owners[T]) PodHandlers() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.podChanged(obj, true) },
		UpdateFunc: func(_, obj any) { w.podChanged(obj, false) },
		DeleteFunc: w.podDeleted,
	}
}

// Handlers are the handlers of another owned kind (ControllerRevisions): any change
// wakes the owner.
func (w Owners[T]) Handlers() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: w.changed, UpdateFunc: func(_, obj any) { w.changed(obj) }, DeleteFunc: w.changed,
	}
}

func (w Owners[T]) podChanged(obj any, added bool) {
	pod, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if owner, ok := w.Owner(pod); ok {
		if added {
			w.Exp.CreationObserved(key(owner))
		}
		w.Queue.Add(key(owner))
		return
	}
	if metav1.GetControllerOfNoCopy(pod) != nil {
		return
	}
	// An orphan: the owners whose selector matches may adopt it.
	all, err := w.List(pod.GetNamespace())
	if err != nil {
		return
	}
	for _, owner := range all {
		sel, err := metav1.LabelSelectorAsSelector(w.Selector(owner))
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.GetLabels())) {
			w.Queue.Add(key(owner))
		}
	}
}

func (w Owners[T]) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if owner, ok := w.Owner(pod); ok {
		w.Exp.DeletionObserved(key(owner), key(pod))
		w.Queue.Add(key(owner))
	}
}

func (w Owners[T]) changed(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if o, ok := obj.(metav1.Object); ok {
		if owner, ok := w.Owner(o); ok {
			w.Queue.Add(key(owner))
		}
	}
}
