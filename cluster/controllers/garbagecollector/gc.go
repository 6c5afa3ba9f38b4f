// Package garbagecollector deletes objects whose owners are gone, as Kubernetes' garbage
// collector does: dependents of a deleted owner are deleted (Background); an owner carrying
// the foregroundDeletion finalizer keeps it until its blockOwnerDeletion dependents are
// gone; an owner carrying the orphan finalizer has its ownerReferences stripped from its
// dependents before the finalizer goes. It follows ownerReferences across every kind the
// API server serves.
package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component names the collector in logs and steps.
const Component = "garbage-collector"

const ownerIndex = "ownerUID"

// Config configures a Collector.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int // default 20, as kube-controller-manager's --concurrent-gc-syncs
}

// item names one object: which resource, and namespace/name.
type item struct {
	kind      *resource
	namespace string
	name      string
}

// String is how the worker logs an item: "ReplicaSet default/web".
func (it item) String() string { return it.kind.gvk.Kind + " " + it.namespace + "/" + it.name }

// Collector is the garbage collector.
type Collector struct {
	cfg    Config
	res    []*resource
	byKind map[schema.GroupKind]*resource
	queue  workqueue.TypedRateLimitingInterface[item]
	absent absentOwners
}

// New builds a Collector; its informers must not have been started yet.
func New(cfg Config) (*Collector, error) {
	if cfg.Client == nil {
		return nil, errors.New("garbagecollector: Client is required")
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", Component)
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	g := &Collector{
		cfg:    cfg,
		res:    resources(cfg.Client, cfg.Informers),
		byKind: map[schema.GroupKind]*resource{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[item](),
			workqueue.TypedRateLimitingQueueConfig[item]{Name: "garbagecollector", Clock: cfg.Clock}),
	}
	for _, r := range g.res {
		g.byKind[r.gvk.GroupKind()] = r
		// Informers shared with other controllers may already carry the index, or may
		// already be running (an index can only be added before): then scan instead.
		if _, ok := r.informer.GetIndexer().GetIndexers()[ownerIndex]; !ok {
			if err := r.informer.AddIndexers(cache.Indexers{ownerIndex: indexByOwner}); err != nil {
				cfg.Logger.Warn("no owner index, dependents found by scanning", "kind", r.gvk.Kind, "err", err)
				r.scan = true
			}
		}
		if _, err := r.informer.AddEventHandler(g.handler(r)); err != nil {
			return nil, fmt.Errorf("garbagecollector: handler %s: %w", r.gvk.Kind, err)
		}
	}
	return g, nil
}

func indexByOwner(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	var uids []string
	for _, r := range m.GetOwnerReferences() {
		uids = append(uids, string(r.UID))
	}
	return uids, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (g *Collector) Start(ctx context.Context) error {
	synced := make([]cache.InformerSynced, len(g.res))
	for i, r := range g.res {
		synced[i] = r.informer.HasSynced
	}
	return worker.Loop[item]{Name: "garbagecollector", Informers: g.cfg.Informers, Synced: synced, Queue: g.queue,
		Workers: g.cfg.Workers, Sync: g.Sync, Logger: g.cfg.Logger}.Start(ctx)
}

func hasFinalizer(m metav1.Object, f string) bool { return slices.Contains(m.GetFinalizers(), f) }

func (g *Collector) handler(kind *resource) cache.ResourceEventHandler {
	enqueue := func(m metav1.Object) {
		g.queue.Add(item{kind, m.GetNamespace(), m.GetName()})
	}
	changed := func(m metav1.Object) {
		if m.GetDeletionTimestamp() != nil &&
			(hasFinalizer(m, metav1.FinalizerDeleteDependents) || hasFinalizer(m, metav1.FinalizerOrphanDependents)) {
			enqueue(m)
			g.enqueueDependents(m.GetUID())
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return
			}
			// A new dependent may already have lost its owner.
			if len(m.GetOwnerReferences()) > 0 {
				enqueue(m)
			}
			changed(m)
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, err1 := meta.Accessor(oldObj)
			m, err2 := meta.Accessor(newObj)
			if err1 != nil || err2 != nil {
				return
			}
			if !ownerRefsEqual(old.GetOwnerReferences(), m.GetOwnerReferences()) {
				enqueue(m)
				g.enqueueWaitingOwners(old)
			}
			changed(m)
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			m, err := meta.Accessor(obj)
			if err != nil {
				return
			}
			g.absent.add(m.GetUID()) // seen deleted: gone for good
			g.enqueueDependents(m.GetUID())
			g.enqueueWaitingOwners(m)
		},
	}
}

func ownerRefsEqual(a, b []metav1.OwnerReference) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.OwnerReference) bool {
		return x.UID == y.UID && ptrEq(x.BlockOwnerDeletion, y.BlockOwnerDeletion)
	})
}

func ptrEq(a, b *bool) bool { return (a != nil && *a) == (b != nil && *b) }

// enqueueDependents queues every cached object that names uid as an owner.
func (g *Collector) enqueueDependents(uid types.UID) {
	for _, d := range g.dependents(uid) {
		g.queue.Add(d.item)
	}
}

// enqueueWaitingOwners queues m's owners that are waiting in foreground deletion, since
// m going away (or letting go) may unblock them.
func (g *Collector) enqueueWaitingOwners(m metav1.Object) {
	for _, ref := range m.GetOwnerReferences() {
		kind, ok := g.kindOf(ref)
		if !ok {
			continue
		}
		obj, exists, err := kind.cached(m.GetNamespace(), ref.Name)
		if err != nil || !exists {
			continue
		}
		if o, err := meta.Accessor(obj); err == nil && o.GetUID() == ref.UID && o.GetDeletionTimestamp() != nil {
			g.queue.Add(item{kind, o.GetNamespace(), o.GetName()})
		}
	}
}

type dependent struct {
	item
	obj metav1.Object
	ref metav1.OwnerReference // its reference to the owner
}

func (g *Collector) dependents(uid types.UID) []dependent {
	var out []dependent
	for _, r := range g.res {
		var objs []any
		if r.scan {
			objs = r.informer.GetStore().List()
		} else {
			var err error
			if objs, err = r.informer.GetIndexer().ByIndex(ownerIndex, string(uid)); err != nil {
				continue
			}
		}
		for _, obj := range objs {
			m, err := meta.Accessor(obj)
			if err != nil {
				continue
			}
			for _, ref := range m.GetOwnerReferences() {
				if ref.UID == uid {
					out = append(out, dependent{item{r, m.GetNamespace(), m.GetName()}, m, ref})
				}
			}
		}
	}
	return out
}

func (g *Collector) kindOf(ref metav1.OwnerReference) (*resource, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, false
	}
	k, ok := g.byKind[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
	return k, ok
}

// Sync looks at one object: finishes its foreground or orphan deletion if it is being
// deleted, and deletes it if all its owners are gone.
func (g *Collector) Sync(ctx context.Context, it item) error {
	r := it.kind
	obj, exists, err := r.cached(it.namespace, it.name)
	if err != nil || !exists {
		return err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	if m.GetDeletionTimestamp() != nil {
		switch {
		case hasFinalizer(m, metav1.FinalizerOrphanDependents):
			return g.orphan(ctx, it, m)
		case hasFinalizer(m, metav1.FinalizerDeleteDependents):
			return g.processDeletingDependents(ctx, it, m)
		}
		return nil
	}
	if len(m.GetOwnerReferences()) == 0 {
		return nil
	}
	// Judged from the cache: every write below carries the cached object's UID, and a
	// delete its resourceVersion too, so a cache that lags (an orphaning owner strips
	// references right before it goes) gets a conflict and a retry, never a wrong delete.
	solid, dangling, waiting, err := g.classify(ctx, it.namespace, m.GetOwnerReferences())
	if err != nil || len(dangling)+len(waiting) == 0 {
		return err
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// Still owned by someone; drop the references to owners that are gone or going.
		return g.removeOwnerRefs(ctx, r, m, append(dangling, waiting...))
	case len(waiting) > 0 && len(g.dependents(m.GetUID())) > 0:
		// The owner waits for us and we have dependents of our own: delete ourselves in
		// the foreground too, after unblocking the owner so it is not stuck behind us.
		if err := g.unblock(ctx, r, m, waiting); err != nil {
			return err
		}
		return g.deleteObject(ctx, it, m, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		if len(waiting) > 0 {
			policy = metav1.DeletePropagationForeground
		}
		return g.deleteObject(ctx, it, m, policy)
	}
}

// classify sorts references by the state of their owners.
func (g *Collector) classify(ctx context.Context, ns string, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range refs {
		state, err := g.ownerState(ctx, ns, ref)
		if err != nil {
			return nil, nil, nil, err
		}
		switch state {
		case ownerExists:
			solid = append(solid, ref)
		case ownerGone:
			dangling = append(dangling, ref)
		case ownerWaiting:
			waiting = append(waiting, ref)
		}
	}
	return solid, dangling, waiting, nil
}

type ownerStateKind int

const (
	ownerExists ownerStateKind = iota
	ownerGone
	ownerWaiting // being deleted in the foreground
)

// ownerState looks the owner up in the cache, then among owners known to be gone, and
// only then asks the API server, because a cache that lags must never cause a live
// object's dependents to be deleted.
func (g *Collector) ownerState(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerStateKind, error) {
	r, ok := g.kindOf(ref)
	if !ok {
		return ownerExists, nil // a kind we don't track: leave its dependents alone
	}
	var owner metav1.Object
	if obj, exists, _ := r.cached(ns, ref.Name); exists {
		if m, err := meta.Accessor(obj); err == nil && m.GetUID() == ref.UID {
			owner = m
		}
	}
	if owner == nil && g.absent.has(ref.UID) {
		return ownerGone, nil
	}
	if owner == nil {
		live, err := r.get(ctx, ns, ref.Name)
		switch {
		case apierrors.IsNotFound(err), err == nil && live.GetUID() != ref.UID:
			g.absent.add(ref.UID)
			return ownerGone, nil
		case err != nil:
			return 0, err
		}
		owner = live
	}
	if owner.GetDeletionTimestamp() != nil && hasFinalizer(owner, metav1.FinalizerDeleteDependents) {
		return ownerWaiting, nil
	}
	return ownerExists, nil
}

func (g *Collector) deleteObject(ctx context.Context, it item, m metav1.Object, policy metav1.DeletionPropagation) error {
	r := it.kind
	if err := g.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "delete-dependent",
		Kind: r.gvk.Kind, Namespace: it.namespace, Name: it.name,
		Message: fmt.Sprintf("deleting %s %s/%s: its owner is gone", r.gvk.Kind, it.namespace, it.name)}); err != nil {
		return err
	}
	uid, rv := m.GetUID(), m.GetResourceVersion()
	err := r.delete(ctx, it.namespace, it.name, metav1.DeleteOptions{
		PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		// Changed since the cache saw it (or replaced): look again once the cache has
		// the change.
		return fmt.Errorf("%s %s/%s changed while being collected: %w", r.gvk.Kind, it.namespace, it.name, err)
	}
	if err == nil {
		g.cfg.Logger.Debug("deleted dependent", "kind", r.gvk.Kind, "object", it.namespace+"/"+it.name, "policy", policy)
	}
	return err
}

type refPatch struct {
	UID                types.UID `json:"uid"`
	BlockOwnerDeletion *bool     `json:"blockOwnerDeletion,omitempty"`
	Patch              string    `json:"$patch,omitempty"`
}

func metaPatch(uid types.UID, refs []refPatch) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "uid": uid}})
	return b
}

// removeOwnerRefs patches away the references to the given owners (strategic merge,
// keyed by uid, so concurrent changes to other references survive).
func (g *Collector) removeOwnerRefs(ctx context.Context, r *resource, m metav1.Object, refs []metav1.OwnerReference) error {
	ps := make([]refPatch, len(refs))
	for i, ref := range refs {
		ps[i] = refPatch{UID: ref.UID, Patch: "delete"}
	}
	err := r.patch(ctx, m.GetNamespace(), m.GetName(), types.StrategicMergePatchType, metaPatch(m.GetUID(), ps))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (g *Collector) unblock(ctx context.Context, r *resource, m metav1.Object, refs []metav1.OwnerReference) error {
	f := false
	var ps []refPatch
	for _, ref := range refs {
		if ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			ps = append(ps, refPatch{UID: ref.UID, BlockOwnerDeletion: &f})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	err := r.patch(ctx, m.GetNamespace(), m.GetName(), types.StrategicMergePatchType, metaPatch(m.GetUID(), ps))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// processDeletingDependents handles an owner in foreground deletion: its dependents are
// queued for deletion, and once none that block it remain, its finalizer goes.
func (g *Collector) processDeletingDependents(ctx context.Context, it item, m metav1.Object) error {
	blocking := 0
	for _, d := range g.dependents(m.GetUID()) {
		if d.ref.BlockOwnerDeletion != nil && *d.ref.BlockOwnerDeletion {
			blocking++
		}
		if d.obj.GetDeletionTimestamp() == nil {
			g.queue.Add(d.item)
		}
	}
	if blocking > 0 {
		return nil // their deletion events bring us back here
	}
	return g.removeFinalizer(ctx, it, m, metav1.FinalizerDeleteDependents)
}

// orphan strips the owner's references from all its dependents, then its orphan finalizer.
func (g *Collector) orphan(ctx context.Context, it item, m metav1.Object) error {
	var errs []error
	for _, d := range g.dependents(m.GetUID()) {
		if err := g.removeOwnerRefs(ctx, d.kind, d.obj, []metav1.OwnerReference{d.ref}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("orphan dependents of %s: %w", it.name, errors.Join(errs...))
	}
	return g.removeFinalizer(ctx, it, m, metav1.FinalizerOrphanDependents)
}

// removeFinalizer drops one finalizer with a JSON patch that first tests the list, so a
// finalizer someone else added meanwhile is not lost.
func (g *Collector) removeFinalizer(ctx context.Context, it item, m metav1.Object, f string) error {
	old := m.GetFinalizers()
	rest := slices.DeleteFunc(slices.Clone(old), func(s string) bool { return s == f })
	ops := []map[string]any{
		{"op": "test", "path": "/metadata/finalizers", "value": old},
		{"op": "replace", "path": "/metadata/finalizers", "value": rest},
	}
	if len(rest) == 0 {
		ops[1] = map[string]any{"op": "remove", "path": "/metadata/finalizers"}
	}
	b, _ := json.Marshal(ops)
	err := it.kind.patch(ctx, it.namespace, it.name, types.JSONPatchType, b)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
