package endpoints

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// written remembers, per Service, the objects this controller last wrote and the
// resourceVersions those writes replaced, in the spirit of Kubernetes' endpointslice
// tracker. The informer cache lags behind our own writes; a sync in that window would
// otherwise update from a replaced version and conflict. While the cache still shows a
// version we replaced, our last write is the freshest object known and is used instead;
// once the cache shows anything else (our last write, or someone else's) the entry is
// dropped and the cache wins again.
type written[T metav1.Object] struct {
	mu sync.Mutex
	m  map[string]map[string]*writeEntry[T] // service key -> object name -> last write
}

type writeEntry[T metav1.Object] struct {
	replaced map[string]bool // resourceVersions our writes replaced; "" stands for absent
	obj      T               // what the API server returned for the last write
	deleted  bool            // the last write was a delete
}

func (e *writeEntry[T]) version() string {
	if e.deleted {
		return ""
	}
	return e.obj.GetResourceVersion()
}

// record notes a write of object name of a Service: replaced is the resourceVersion of
// the object the write was based on ("" for a create), obj what the server returned.
func (w *written[T]) record(svcKey, name, replaced string, obj T, deleted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]map[string]*writeEntry[T]{}
	}
	if w.m[svcKey] == nil {
		w.m[svcKey] = map[string]*writeEntry[T]{}
	}
	e := w.m[svcKey][name]
	if e == nil || e.version() != replaced {
		// Not a write on top of our previous one: start over.
		e = &writeEntry[T]{replaced: map[string]bool{}}
		w.m[svcKey][name] = e
	}
	e.replaced[replaced] = true
	e.obj, e.deleted = obj, deleted
}

// forget drops a Service's entries, when it is gone.
func (w *written[T]) forget(svcKey string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, svcKey)
}

// fresh merges a Service's cached objects (by name; the map is changed) with our writes
// the cache has not caught up with. The objects must not be modified.
func (w *written[T]) fresh(svcKey string, cached map[string]T) map[string]T {
	w.mu.Lock()
	defer w.mu.Unlock()
	entries := w.m[svcKey]
	for name, e := range entries {
		rv, found := "", false
		if c, ok := cached[name]; ok {
			rv, found = c.GetResourceVersion(), true
		}
		// A cached object without a resourceVersion (fake clients) tells nothing.
		if (found && rv == "") || !e.replaced[rv] {
			delete(entries, name) // the cache has moved on
			continue
		}
		if e.deleted {
			delete(cached, name)
		} else {
			cached[name] = e.obj
		}
	}
	if len(entries) == 0 {
		delete(w.m, svcKey)
	}
	return cached
}
