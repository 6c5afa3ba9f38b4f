package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"webkube/cluster/defaulting"
	"webkube/cluster/store"
	"webkube/cluster/validation"
	"webkube/cluster/watchcache"
)

// decodeKV turns a stored value into a typed object whose resourceVersion is the
// revision that wrote it.
func decodeKV(r *resource, kv store.KeyValue) (runtime.Object, error) {
	obj := r.newObj()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	setRV(obj, kv.ModRevision)
	if u, ok := obj.(*unstructured.Unstructured); ok && r.conv != nil && u.GetAPIVersion() != r.gvr.GroupVersion().String() {
		return convertTo(r, r.conv)(u)
	}
	obj.GetObjectKind().SetGroupVersionKind(r.gvk())
	return obj, nil
}

// encodeForStore serialises obj without its resourceVersion: the revision of the row
// is the resourceVersion, so storing it would only go stale. The bytes are exactly
// json.Marshal's (withResourceVersion and the watch cache rely on it).
func encodeForStore(obj runtime.Object) ([]byte, error) {
	m := mustMeta(obj)
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	if _, ok := obj.(*unstructured.Unstructured); !ok {
		if data, ok, err := encodeSplicingFields(obj, m); ok || err != nil {
			return data, err
		}
	}
	return json.Marshal(obj)
}

// withResourceVersion is what json.Marshal(obj) gives once obj's resourceVersion is
// set, made from stored, the bytes encodeForStore gave, without encoding again:
// ObjectMeta encodes its fields in declaration order, and resourceVersion comes right
// after uid, which every stored object has. nil when stored does not have that shape.
func withResourceVersion(stored []byte, m metav1.Object) []byte {
	uid, rv := string(m.GetUID()), m.GetResourceVersion()
	meta := bytes.Index(stored, []byte(`"metadata":{`))
	if uid == "" || rv == "" || meta < 0 {
		return nil
	}
	at := bytes.Index(stored, []byte(`"uid":"`+uid+`"`))
	if at < meta {
		return nil
	}
	at += len(`"uid":""`) + len(uid)
	field := `,"resourceVersion":"` + rv + `"`
	out := make([]byte, 0, len(stored)+len(field))
	out = append(out, stored[:at]...)
	out = append(out, field...)
	return append(out, stored[at:]...)
}

func mustMeta(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("apiserver: %T has no ObjectMeta: %v", obj, err))
	}
	return m
}

func setRV(obj runtime.Object, rev int64) {
	mustMeta(obj).SetResourceVersion(strconv.FormatInt(rev, 10))
}

func parseRV(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(fmt.Sprintf("invalid resource version %q", s))
	}
	return n, nil
}

func (s *Server) getObject(ctx context.Context, r *resource, ns, name string) (runtime.Object, store.KeyValue, error) {
	kv, err := s.store.Get(ctx, r.key(ns, name))
	if err != nil {
		return nil, kv, storeErr(r, name, err)
	}
	obj, err := decodeKV(r, kv)
	return obj, kv, err
}

func isDryRun(q url.Values) bool {
	for _, v := range q["dryRun"] {
		if v == "All" {
			return true
		}
	}
	return false
}

// --- get and list ---

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, t target) error {
	if rv := r.URL.Query().Get("resourceVersion"); rv != "" {
		if o, err := s.cachedGet(r.Context(), t, rv); o != nil || err != nil {
			if err != nil {
				return err
			}
			return s.writeCachedObject(w, r, t.res, o)
		}
	}
	obj, _, err := s.getObject(r.Context(), t.res, t.namespace, t.name)
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, t.res, obj)
}

// cachedGet serves a GET at resourceVersion=0 or "not older than" a revision from the
// watch cache, as kube-apiserver's; nil, nil when the store must answer (no cache yet).
func (s *Server) cachedGet(ctx context.Context, t target, rvStr string) (*watchcache.Object, error) {
	rv, err := parseRV(rvStr)
	if err != nil {
		return nil, err
	}
	if cur, err := s.store.CurrentRevision(ctx); err != nil {
		return nil, err
	} else if rv > cur {
		return nil, tooLarge(rv, cur)
	}
	if err := s.cache.WaitFor(ctx, rv, cacheWait); err != nil {
		return nil, nil
	}
	o, _, ok, err := s.cache.Get(t.res.key(t.namespace, t.name))
	if err != nil {
		return nil, nil
	}
	if !ok {
		return nil, notFound(t.res, t.name)
	}
	return o, nil
}

// selectors are the parsed labelSelector and fieldSelector of a list or watch.
type selectors struct {
	label labels.Selector
	field fields.Selector
}

func (sel selectors) empty() bool { return sel.label.Empty() && sel.field.Empty() }

func (sel selectors) matches(r *resource, obj runtime.Object) bool {
	if sel.empty() {
		return true
	}
	m := mustMeta(obj)
	return sel.label.Matches(labels.Set(m.GetLabels())) && sel.field.Matches(r.fieldSet(obj, m))
}

func parseSelectors(r *resource, q url.Values, name string) (selectors, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return selectors{}, badRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return selectors{}, badRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	if err := r.checkFieldSelector(fs); err != nil {
		return selectors{}, err
	}
	if name != "" {
		fs = fields.AndSelectors(fs, fields.OneTermEqualSelector("metadata.name", name))
	}
	return selectors{label: ls, field: fs}, nil
}

// list returns the objects of r in ns matching sel, consistent at one revision, read
// from the store and decoded afresh (callers may change them). Clients' lists are
// served by serveList, from the watch cache.
func (s *Server) list(ctx context.Context, r *resource, ns string, sel selectors, q url.Values) ([]runtime.Object, int64, error) {
	rv, err := parseRV(q.Get("resourceVersion"))
	if err != nil {
		return nil, 0, err
	}
	var at int64
	if q.Get("resourceVersionMatch") == string(metav1.ResourceVersionMatchExact) {
		at = rv
	}
	kvs, rev, err := s.store.List(ctx, r.listPrefix(ns), at)
	if errors.Is(err, store.ErrCompacted) {
		return nil, 0, tooOld(at, s.store.CompactedRevision())
	}
	if errors.Is(err, store.ErrFuture) {
		cur, _ := s.store.CurrentRevision(ctx)
		return nil, 0, tooLarge(at, cur)
	}
	if err == nil && rv > rev {
		return nil, 0, tooLarge(rv, rev) // "not older than" a revision we have not reached
	}
	if err != nil {
		return nil, 0, err
	}
	objs := make([]runtime.Object, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := decodeKV(r, kv)
		if err != nil {
			return nil, 0, err
		}
		if sel.matches(r, obj) {
			objs = append(objs, obj)
		}
	}
	return objs, rev, nil
}

func newList(r *resource, objs []runtime.Object, rev int64) (runtime.Object, error) {
	list := r.newList()
	if err := meta.SetList(list, objs); err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(strconv.FormatInt(rev, 10))
	list.GetObjectKind().SetGroupVersionKind(r.gvr.GroupVersion().WithKind(r.kind + "List"))
	return list, nil
}

// --- create ---

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, t target) error {
	obj, err := requestObject(w, r, t.res)
	if err != nil {
		return err
	}
	out, err := s.create(r.Context(), t.res, t.namespace, obj, isDryRun(r.URL.Query()))
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusCreated, t.res, out)
}

// create stores a new object, filling in what the server owns (uid, timestamps,
// defaults, cluster IPs) and refusing invalid objects before anything is written.
// The object returned is shared with the watch cache and watchers: read-only.
func (s *Server) create(ctx context.Context, r *resource, ns string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	m := mustMeta(obj)
	if r.namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(ns)
		} else if m.GetNamespace() != ns {
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(5))
	}
	if m.GetName() == "" {
		return nil, apierrors.NewInvalid(r.gvk().GroupKind(), "", field.ErrorList{
			field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(s.clock.Now().Truncate(1e9)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	m.SetGeneration(0)
	if r.bumpGeneration {
		m.SetGeneration(1)
	}
	defaulting.PrepareForCreate(obj) // what clients may not set, as kube's strategies
	defaulting.Default(obj)
	obj = trackCreate(ctx, r, obj)
	if r.namespaced {
		if err := s.checkNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	if err := s.admit(ctx, obj); err != nil {
		return nil, err
	}
	if errs := validation.ValidateCreate(obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(r.gvk().GroupKind(), m.GetName(), errs)
	}
	if err := s.checkEscalation(ctx, r, obj); err != nil {
		return nil, err
	}
	// Validating admission last, as kube-apiserver: the quota is charged only for an
	// object that is otherwise fit to store.
	if err := s.admitQuota(ctx, r, obj, dryRun); err != nil {
		return nil, err
	}
	release, err := s.allocateService(obj)
	if err != nil {
		if _, gerr := s.store.Get(ctx, r.key(m.GetNamespace(), m.GetName())); gerr == nil {
			return nil, apierrors.NewAlreadyExists(r.gr(), m.GetName()) // the real problem
		}
		return nil, err
	}
	if dryRun {
		release()
		return obj, nil
	}
	data, err := encodeForStore(obj)
	if err != nil {
		release()
		return nil, err
	}
	rev, err := createOwned(ctx, s.store, r.key(m.GetNamespace(), m.GetName()), data)
	if err != nil {
		release()
		return nil, storeErr(r, m.GetName(), err)
	}
	setRV(obj, rev)
	s.events.prime(r, r.key(m.GetNamespace(), m.GetName()), rev, obj, data)
	return obj, nil
}

// ownedCreator is a store that keeps a value handed over without copying it.
type ownedCreator interface {
	CreateOwned(ctx context.Context, key string, value []byte) (int64, error)
}

// createOwned stores data, a fresh encoding nobody changes again, without the copy a
// plain Create makes of it.
func createOwned(ctx context.Context, st store.Store, key string, data []byte) (int64, error) {
	if oc, ok := st.(ownedCreator); ok {
		return oc.CreateOwned(ctx, key, data)
	}
	return st.Create(ctx, key, data)
}

// checkNamespace refuses objects in a namespace that does not exist (404, as
// kube-apiserver's NamespaceLifecycle admission) or is being deleted (403).
func (s *Server) checkNamespace(ctx context.Context, ns string) error {
	gen, ok := s.activeNS.lookup(ns)
	if ok {
		return nil
	}
	nsRes := resourceFor(coreV1.WithResource("namespaces").GroupResource())
	obj, _, err := s.getObject(ctx, nsRes, "", ns)
	if err != nil {
		return err
	}
	if mustMeta(obj).GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(coreGR("namespaces"), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	s.activeNS.remember(ns, gen)
	return nil
}

// nsCache remembers namespaces known to exist and not be terminating, so creates do not
// read the namespace every time (it was a fifth of a pod create's CPU). Every namespace
// write goes through this server and forgets the name; gen keeps a lookup that raced
// with such a write from remembering a stale answer.
type nsCache struct {
	mu     sync.Mutex
	gen    uint64
	active map[string]bool
}

func (c *nsCache) lookup(ns string) (gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.active[ns]
}

func (c *nsCache) remember(ns string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.active == nil {
		c.active = map[string]bool{}
	}
	c.active[ns] = true
}

func (c *nsCache) forget(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.active, ns)
}

// --- update ---

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, t target) error {
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	obj, err := decodeObject(t.res, data, opts)
	if err != nil {
		return err
	}
	m := mustMeta(obj)
	if m.GetName() != t.name {
		return badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), t.name))
	}
	if t.res.namespaced && m.GetNamespace() != "" && m.GetNamespace() != t.namespace {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	out, err := s.update(r.Context(), t.res, t.namespace, t.name, t.sub, isDryRun(r.URL.Query()),
		func(cur runtime.Object) (runtime.Object, error) {
			if err := checkPrecondition(t.res, t.name, m.GetResourceVersion(), cur); err != nil {
				return nil, err
			}
			return obj.DeepCopyObject(), nil
		})
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, t.res, out)
}

// checkPrecondition fails with 409 Conflict when the client's resourceVersion is not
// the current one, and with 400 when it is not one the server could have given out.
func checkPrecondition(r *resource, name, rv string, cur runtime.Object) error {
	if n, err := strconv.ParseUint(rv, 10, 64); rv != "" && (err != nil || n == 0) {
		return badRequest(fmt.Sprintf("metadata.resourceVersion: Invalid value: %q: must be the resourceVersion "+
			"the object was read at (a positive decimal number), or empty", rv))
	}
	if rv != "" && rv != mustMeta(cur).GetResourceVersion() {
		return conflict(r, name)
	}
	return nil
}

// update applies mutate to the current object and writes the result (returned
// read-only: the watch cache and watchers share it), retrying when
// another writer got in between (mutate re-runs on the fresh object; a stale
// client-supplied resourceVersion fails inside mutate). sub "status" keeps everything
// but status; the main resource keeps the stored status.
func (s *Server) update(ctx context.Context, r *resource, ns, name, sub string, dryRun bool,
	mutate func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	key := r.key(ns, name)
	if r.gvr.Resource == "namespaces" {
		s.activeNS.forget(name)
		defer s.activeNS.forget(name)
	}
	for attempt := 0; attempt < 20; attempt++ {
		cur, kv, err := s.getObject(ctx, r, ns, name)
		if err != nil {
			return nil, err
		}
		old := cur.DeepCopyObject()
		next, err := mutate(cur)
		if err != nil {
			return nil, err
		}
		next, err = s.prepareUpdate(ctx, r, sub, next, old)
		if err != nil {
			return nil, err
		}
		next = trackUpdate(ctx, r, sub, old, next)
		if err := s.checkEscalation(ctx, r, next); err != nil {
			return nil, err
		}
		if err := s.admitCSRApproval(ctx, sub, next); err != nil {
			return nil, err
		}
		if err := s.admitQuotaUpdate(ctx, r, sub, next, old, dryRun); err != nil {
			return nil, err
		}
		release, err := s.updateServiceAllocations(next, old)
		if err != nil {
			return nil, err
		}
		if equality.Semantic.DeepEqual(next, old) {
			release(true)
			return old, nil // nothing changed: no new revision, as kube-apiserver
		}
		if dryRun {
			release(true)
			return next, nil
		}
		nm := mustMeta(next)
		if nm.GetDeletionTimestamp() != nil && len(nm.GetFinalizers()) == 0 && gracePeriodOver(nm) {
			// The last finalizer is gone from an object being deleted: delete it now.
			dkv, err := s.store.Delete(ctx, key, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) {
				release(true)
				continue
			}
			if err != nil {
				release(true)
				return nil, storeErr(r, name, err)
			}
			release(false)
			s.releaseService(next)
			setRV(next, dkv.ModRevision)
			return next, nil
		}
		data, err := encodeForStore(next)
		if err != nil {
			release(true)
			return nil, err
		}
		rev, err := s.store.Update(ctx, key, data, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) {
			release(true)
			continue
		}
		if err != nil {
			release(true)
			return nil, storeErr(r, name, err)
		}
		release(false)
		setRV(next, rev)
		s.events.prime(r, key, rev, next, data)
		return next, nil
	}
	return nil, conflict(r, name)
}

func gracePeriodOver(m metav1.Object) bool {
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

// prepareUpdate carries over what clients cannot change, applies the status rules,
// bumps generation on spec changes, defaults and validates.
func (s *Server) prepareUpdate(ctx context.Context, r *resource, sub string, next, old runtime.Object) (runtime.Object, error) {
	if r.custom != nil {
		return s.prepareCustomUpdate(ctx, r, sub, next, old)
	}
	if csr, ok := next.(*certificatesv1.CertificateSigningRequest); ok {
		return s.prepareCSR(r, sub, csr, old)
	}
	om := mustMeta(old)
	if sub == "ephemeralcontainers" {
		return prepareEphemeralContainers(next, old)
	}
	if sub == "status" {
		// Only status changes through /status.
		out := old.DeepCopyObject()
		copyField(out, next, "Status")
		mustMeta(out).SetManagedFields(mustMeta(next).GetManagedFields())
		next = out
	} else if r.hasStatus && sub != "binding" {
		copyField(next, old, "Status")
	}
	if p, ok := next.(*corev1.Pod); ok {
		// Ephemeral containers change only through pods/ephemeralcontainers.
		p.Spec.EphemeralContainers = old.(*corev1.Pod).Spec.EphemeralContainers
	}
	nm := mustMeta(next)
	keepSystemMeta(nm, om)
	next.GetObjectKind().SetGroupVersionKind(r.gvk())
	if sub == "" {
		defaulting.PrepareForUpdate(next)
		defaulting.DropDisabledOnUpdate(next, old)
	}
	defaulting.Default(next)
	defaulting.Admit(next) // kube's admission runs on updates too (its fields stay nobody's)
	if r.bumpGeneration && !equality.Semantic.DeepEqual(fieldOf(next, "Spec"), fieldOf(old, "Spec")) {
		nm.SetGeneration(om.GetGeneration() + 1)
	}
	if errs := validation.ValidateUpdate(next, old); len(errs) > 0 {
		return nil, apierrors.NewInvalid(r.gvk().GroupKind(), nm.GetName(), errs)
	}
	if err := validateCRDUpdate(context.TODO(), sub, next, old); err != nil {
		return nil, err
	}
	return next, nil
}

// fieldOf returns the named top-level struct field of a typed object (Spec, Status).
func fieldOf(obj runtime.Object, name string) any {
	v := reflect.ValueOf(obj).Elem().FieldByName(name)
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	sv := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && sv.IsValid() && d.CanSet() {
		d.Set(sv)
	}
}

// keepSystemMeta carries onto an update what its writer cannot change, from the stored
// object: name, namespace, UID, creation and deletion times, generation and version.
func keepSystemMeta(next, old metav1.Object) {
	next.SetName(old.GetName())
	next.SetNamespace(old.GetNamespace())
	next.SetUID(old.GetUID())
	next.SetCreationTimestamp(old.GetCreationTimestamp())
	next.SetDeletionTimestamp(old.GetDeletionTimestamp())
	next.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	next.SetGeneration(old.GetGeneration())
	next.SetResourceVersion(old.GetResourceVersion())
	next.SetSelfLink("")
}
