package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
	"sigs.k8s.io/structured-merge-diff/v4/value"

	"webkube/cluster/defaulting"
)

// Server-side apply and managedFields, as kube-apiserver keeps them: every create,
// update and patch records what its manager (the fieldManager parameter, else the
// first segment of the User-Agent) set, as an Update entry; an apply merges the
// applier's configuration with k8s.io/apimachinery's FieldManager, which reports
// conflicts with other managers and removes the fields the applier stopped sending.

// writer is who writes in a request: its manager name, and whether the object's
// managedFields are already computed (an apply) so create and update keep them.
type writer struct {
	manager string
	applied bool
	// sub is the subresource to record when it is not the one updated: "scale"
	// writes the main resource's spec.replicas.
	sub string
}

type writerKey struct{}

func withWriter(ctx context.Context, w writer) context.Context {
	return context.WithValue(ctx, writerKey{}, w)
}

// writerOf is the request's writer; writes the server makes itself (bootstrap objects,
// quota and disruption-budget status) are kube-apiserver's, as its loopback client's.
func writerOf(ctx context.Context) writer {
	if w, ok := ctx.Value(writerKey{}).(writer); ok {
		return w
	}
	return writer{manager: "kube-apiserver"}
}

// asScale marks a write of the main resource as made through /scale.
func asScale(ctx context.Context) context.Context {
	w := writerOf(ctx)
	w.sub = "scale"
	return withWriter(ctx, w)
}

// withRequestWriter records the request's manager on its context (writes only).
func withRequestWriter(r *http.Request) *http.Request {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return r
	}
	return r.WithContext(withWriter(r.Context(), writer{manager: managerOrUserAgent(r.URL.Query().Get("fieldManager"), r.UserAgent())}))
}

// managerOrUserAgent is kube-apiserver's: the fieldManager parameter, else the
// User-Agent up to its first "/", printable characters only, at most 128 bytes.
func managerOrUserAgent(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	prefix, _, _ := strings.Cut(userAgent, "/")
	var b bytes.Buffer
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > metav1validation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fieldManagers builds one FieldManager per resource and subresource, on first use:
// the type converter parses kube's schemas of every built-in type once.
type fieldManagers struct {
	once sync.Once
	tc   *typeConverter
	byRS sync.Map // resource/subresource → *managedfields.FieldManager or error
	// created: the FieldsV1 of recent creates (createdEntry).
	created createdCache
}

var managers fieldManagers

type fieldManagerOrErr struct {
	fm  *managedfields.FieldManager
	err error
}

func (f *fieldManagers) get(r *resource, sub string) (*managedfields.FieldManager, error) {
	key := r.gvr.String() + "/" + sub
	if r.custom != nil {
		key = fmt.Sprintf("%p/%s", r, sub) // a changed CRD serves a new resource
	}
	if v, ok := f.byRS.Load(key); ok {
		e := v.(fieldManagerOrErr)
		return e.fm, e.err
	}
	f.once.Do(func() { f.tc = newTypeConverter() })
	var fm *managedfields.FieldManager
	var err error
	if r.custom != nil {
		// Custom resources are unstructured, merged by their deduced structure.
		fm, err = managedfields.NewDefaultCRDFieldManager(f.tc.deduced, unstructuredConvertor{}, customDefaulter{r},
			unstructuredCreater{}, r.gvk(), r.gvr.GroupVersion(), sub, resetFields(r, sub))
	} else {
		fm, err = managedfields.NewDefaultFieldManager(f.tc, runtime.UnsafeObjectConvertor(scheme.Scheme), defaulter{},
			scheme.Scheme, r.gvk(), r.gvr.GroupVersion(), sub, resetFields(r, sub))
	}
	if err != nil {
		err = fmt.Errorf("field manager for %s: %w", r.gvk(), err)
	}
	f.byRS.Store(key, fieldManagerOrErr{fm, err})
	return fm, err
}

// resetFields are the fields a write cannot set and the server resets, so their
// writer does not own them: status for the main resource when status is a
// subresource; everything but status for /status writes.
func resetFields(r *resource, sub string) map[fieldpath.APIVersion]fieldpath.Filter {
	v := fieldpath.APIVersion(r.gvr.GroupVersion().String())
	switch {
	case sub == "status":
		return map[fieldpath.APIVersion]fieldpath.Filter{v: keepOnly(fieldpath.MakePrefixMatcherOrDie("status"))}
	case sub == "" && r.hasStatus:
		return map[fieldpath.APIVersion]fieldpath.Filter{
			v: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status")))}
	}
	return nil
}

// keepOnly is a reset filter that resets every field outside the matcher.
func keepOnly(m *fieldpath.SetMatcher) fieldpath.Filter { return fieldpath.NewIncludeMatcherFilter(m) }

// unstructuredConvertor converts a custom resource only to its own (single served)
// version: webkube serves each CRD version's objects as stored.
type unstructuredConvertor struct{}

func (unstructuredConvertor) Convert(in, out, context any) error {
	return fmt.Errorf("custom resources are not converted")
}

func (unstructuredConvertor) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("custom resource %T is not unstructured", in)
	}
	if gvk, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{u.GroupVersionKind()}); ok {
		u.SetGroupVersionKind(gvk)
	}
	return u, nil
}

func (unstructuredConvertor) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return "", "", fmt.Errorf("field labels are not converted")
}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// customDefaulter prunes and defaults an applied custom resource by its schema, as
// its decoding does.
type customDefaulter struct{ r *resource }

func (d customDefaulter) Default(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		_, _ = d.r.custom.Decode(u)
	}
}

type defaulter struct{}

func (defaulter) Default(obj runtime.Object) { defaulting.Default(obj) }

// typeConverter converts built-in objects with the schemas kube-apiserver uses (the
// ones client-go carries for apply configurations: list types and map keys included)
// and any other kind by deducing its structure, every list and map atomic.
type typeConverter struct {
	parser  typeResolver
	deduced managedfields.TypeConverter
	types   sync.Map // GroupVersionKind → *typed.ParseableType (nil: none)
}

type typeResolver interface {
	Type(openAPIName string) typed.ParseableType
}

func newTypeConverter() *typeConverter {
	return &typeConverter{
		parser:  applyconfigurations.NewTypeConverter(scheme.Scheme).TypeResolver,
		deduced: managedfields.NewDeducedTypeConverter(),
	}
}

func (c *typeConverter) typeOf(gvk schema.GroupVersionKind) *typed.ParseableType {
	if v, ok := c.types.Load(gvk); ok {
		return v.(*typed.ParseableType)
	}
	var pt *typed.ParseableType
	if obj, err := scheme.Scheme.New(gvk); err == nil {
		t := c.parser.Type(schemaName(reflect.TypeOf(obj).Elem()))
		if t.IsValid() {
			pt = &t
		}
	}
	c.types.Store(gvk, pt)
	return pt
}

func (c *typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	t := c.typeOf(obj.GetObjectKind().GroupVersionKind())
	if t == nil {
		return c.deduced.ObjectToTyped(obj, opts...)
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return t.FromUnstructured(u.UnstructuredContent(), opts...) // validated: what clients apply
	}
	// A Go object fits its own schema (duplicate keys aside, which the FieldManager
	// allows): validating it would cost a third of tracking an update.
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, err
	}
	return typed.AsTypedUnvalidated(v, t.Schema, t.TypeRef), nil
}

func (c *typeConverter) TypedToObject(v *typed.TypedValue) (runtime.Object, error) {
	return c.deduced.TypedToObject(v) // an Unstructured, whatever the schema
}

// tracked: objects of r have managedFields (stored objects; views write through
// their stored resource).
func (r *resource) tracked() bool { return r.stored() }

// trackCreate records the creator's fields on a new object (after defaulting, so the
// defaults are the creator's, as kube-apiserver decodes them). An apply has already
// recorded its own.
func trackCreate(ctx context.Context, r *resource, obj runtime.Object) runtime.Object {
	w := writerOf(ctx)
	if w.applied || !r.tracked() {
		return obj
	}
	obj.GetObjectKind().SetGroupVersionKind(r.gvk())
	m := mustMeta(obj)
	if len(m.GetManagedFields()) == 0 {
		if e, err := managers.createdEntry(r, obj, w.manager); err == nil {
			m.SetManagedFields(e)
			return obj
		}
	}
	fm, err := managers.get(r, "")
	if err != nil {
		m.SetManagedFields(nil)
		return obj
	}
	return fm.UpdateNoErrors(r.newObj(), obj, w.manager)
}

// metaFields are the fields no manager owns (the FieldManager strips them too).
var metaFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

// createdEntry is the managedFields of a new object with none yet, computed
// directly: the creator owns every field of it but the metadata the server keeps and
// the fields it resets, which is what the FieldManager records (a test holds them
// equal) in one walk of the object instead of a validation, a comparison with an
// empty object and the manager chain's copies: a third of a pod create's CPU
// otherwise.
func (f *fieldManagers) createdEntry(r *resource, obj runtime.Object, manager string) ([]metav1.ManagedFieldsEntry, error) {
	buf := keyBufs.Get().(*bytes.Buffer)
	defer keyBufs.Put(buf)
	key := createdKey(buf, r, obj)
	raw, ok := f.created.get(key)
	if !ok {
		var err error
		if raw, err = f.createdFields(r, obj); err != nil {
			return nil, err
		}
		f.created.put(key, raw)
	}
	if raw == nil {
		return nil, nil
	}
	at := mustMeta(obj).GetCreationTimestamp()
	return []metav1.ManagedFieldsEntry{{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: r.gvr.GroupVersion().String(), Time: &at, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: bytes.Clone(raw)}}}, nil
}

// keyBufs hold createdKey's encodings: a key is copied only when the cache keeps it.
var keyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// createdFields is the FieldsV1 of a create of obj (nil: no field).
func (f *fieldManagers) createdFields(r *resource, obj runtime.Object) ([]byte, error) {
	f.once.Do(func() { f.tc = newTypeConverter() })
	t := f.tc.typeOf(r.gvk())
	if t == nil {
		return nil, fmt.Errorf("no schema for %s", r.gvk())
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, err
	}
	empty, err := value.NewValueReflect(r.newObj())
	if err != nil {
		return nil, err
	}
	c, err := typed.AsTypedUnvalidated(empty, t.Schema, t.TypeRef).Compare(typed.AsTypedUnvalidated(v, t.Schema, t.TypeRef))
	if err != nil {
		return nil, err // duplicate keys, say: the FieldManager decides
	}
	set := c.Added.Union(c.Modified).Difference(metaFields)
	gv := r.gvr.GroupVersion().String()
	if reset := resetFields(r, "")[fieldpath.APIVersion(gv)]; reset != nil {
		set = reset.Filter(set)
	}
	if set.Empty() {
		return nil, nil
	}
	return set.ToJSON()
}

// createdCache keeps the FieldsV1 of recent creates by createdKey: the pods of one
// template (a ReplicaSet's, a Job's) share theirs, and computing it walks the whole
// object twice through reflection, most of the CPU of tracking a create. Bounded: it
// starts again when full.
type createdCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

const createdCacheSize = 256

func (c *createdCache) get(key []byte) ([]byte, bool) {
	if key == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, ok := c.m[string(key)]
	return raw, ok
}

func (c *createdCache) put(key []byte, raw []byte) {
	if key == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= createdCacheSize {
		c.m = make(map[string][]byte, createdCacheSize)
	}
	c.m[string(key)] = raw
}

// createdKey is the resource and obj's JSON without the metadata no manager owns and
// every create sets apart (name, namespace, uid, creation time), written into buf: two
// objects with the same key have the same fields, so the same FieldsV1. nil when obj
// does not encode.
func createdKey(buf *bytes.Buffer, r *resource, obj runtime.Object) []byte {
	m := mustMeta(obj)
	name, ns, uid, created := m.GetName(), m.GetNamespace(), m.GetUID(), m.GetCreationTimestamp()
	m.SetName("")
	m.SetNamespace("")
	m.SetUID("")
	m.SetCreationTimestamp(metav1.Time{})
	buf.Reset()
	buf.WriteString(r.gvr.Group) // as r.gvr.String(), without allocating it
	buf.WriteByte('/')
	buf.WriteString(r.gvr.Version)
	buf.WriteByte('/')
	buf.WriteString(r.gvr.Resource)
	buf.WriteByte(0)
	err := json.NewEncoder(buf).Encode(obj)
	m.SetName(name)
	m.SetNamespace(ns)
	m.SetUID(uid)
	m.SetCreationTimestamp(created)
	if err != nil {
		return nil
	}
	return buf.Bytes()
}

// trackUpdate records what an update (of the main resource or of sub) changed as
// its manager's. The binding subresource is the scheduler's placement, which
// kube-apiserver writes without touching managedFields.
func trackUpdate(ctx context.Context, r *resource, sub string, old, next runtime.Object) runtime.Object {
	w := writerOf(ctx)
	if w.applied || sub == "binding" || !r.tracked() {
		return next
	}
	if w.sub != "" {
		sub = w.sub
	}
	fm, err := managers.get(r, sub)
	if err != nil {
		return next
	}
	next.GetObjectKind().SetGroupVersionKind(r.gvk())
	return fm.UpdateNoErrors(old, next, w.manager)
}

// applyConfig merges an applied configuration into live (an empty object when
// creating) as manager's, returning the typed result with its managedFields.
func applyConfig(r *resource, sub string, live runtime.Object, cfg *unstructured.Unstructured, manager string, force bool) (runtime.Object, error) {
	fm, err := managers.get(r, sub)
	if err != nil {
		return nil, err
	}
	live.GetObjectKind().SetGroupVersionKind(r.gvk())
	out, err := fm.Apply(live, cfg.DeepCopy(), manager, force)
	if err != nil {
		if _, ok := err.(apierrors.APIStatus); ok {
			return nil, err
		}
		return nil, badRequest(err.Error()) // the configuration does not fit the schema
	}
	return out, nil
}
