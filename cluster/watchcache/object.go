// Package watchcache keeps the current objects of every resource in memory, fed by the
// store's watch, so LIST and GET are served without reading SQLite, as kube-apiserver's
// cacher serves them without reading etcd.
//
// One store watch over every key feeds one goroutine, which applies each event to the
// resource whose prefix holds the key and then advances the cache's revision. Since
// every write is an event, the cache has seen everything up to the store's current
// revision once its revision reaches it: a consistent LIST waits for that, then reads
// memory. Objects are decoded once per revision and shared read-only by lists, gets and
// watches; their JSON is encoded at most once.
package watchcache

import (
	"encoding/json"
	"sync"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is one object at one revision. Everything in it is read-only: it is shared
// by every reader, so a caller that changes the object must DeepCopy it first.
type Object struct {
	Key    string
	Rev    int64
	Obj    runtime.Object
	Labels labels.Set
	Fields fields.Set // what field selectors may test

	once sync.Once
	raw  []byte
	err  error
}

// NewObject wraps a decoded object (whose resourceVersion is already rev).
func NewObject(key string, rev int64, obj runtime.Object, lbls labels.Set, flds fields.Set) *Object {
	return &Object{Key: key, Rev: rev, Obj: obj, Labels: lbls, Fields: flds}
}

// JSON is the object encoded as JSON, computed on first use and kept: every LIST and
// watcher after the first sends the same bytes.
func (o *Object) JSON() ([]byte, error) {
	o.once.Do(func() { o.raw, o.err = json.Marshal(o.Obj) })
	return o.raw, o.err
}

// SetJSON gives the object's JSON when the caller holds it already (a write that just
// encoded it), so JSON need not encode it again. raw must be exactly what JSON would
// return; once JSON has run, SetJSON does nothing.
func (o *Object) SetJSON(raw []byte) {
	o.once.Do(func() { o.raw = raw })
}
