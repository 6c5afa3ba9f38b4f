package apiserver

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"

	"webkube/cluster/crd"
	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// CustomResourceDefinitions (apiextensions.k8s.io/v1) are stored like any resource; the
// CRD controller (crd_controller.go) compiles each established one into served
// resources, kept per server in crdRegistry, which routing, discovery and OpenAPI
// consult after the built-in table. A custom resource is an unstructured object in
// the same revision log and watch cache as every other.

var apiextensionsV1 = apiextv1.SchemeGroupVersion

var crdResource = &resource{
	gvr: apiextensionsV1.WithResource("customresourcedefinitions"), kind: "CustomResourceDefinition",
	singular: "customresourcedefinition", shortNames: []string{"crd", "crds"}, categories: []string{"api-extensions"},
	subresources: []string{"status"}, hasStatus: true, bumpGeneration: true,
	newObj:  func() runtime.Object { return &apiextv1.CustomResourceDefinition{} },
	newList: func() runtime.Object { return &apiextv1.CustomResourceDefinitionList{} },
}

func init() {
	resourceTable = append(resourceTable, crdResource)
	groupVersions = append(groupVersions, apiextensionsV1)
	// The field manager converts and creates typed objects through client-go's scheme.
	utilruntime.Must(apiextv1.AddToScheme(scheme.Scheme))
}

// customPrefix holds every custom resource, under <group>/<plural>/: one watch cache
// resource serves them all, whichever CRDs come and go.
const customPrefix = "/registry/customresources/"

// crdRegistry is what the established CRDs serve, by group version.
type crdRegistry struct {
	mu   sync.RWMutex
	byGV map[schema.GroupVersion][]*resource
	// byCRD is each CRD's resources, by CRD name: its storage version's first (which
	// may not be served), then the other served versions'.
	byCRD map[string][]*resource
	// served is the uid and generation each CRD's resources were compiled from.
	served map[string]string
	// gen changes whenever what is served changes (OpenAPI documents are rebuilt).
	gen     uint64
	openapi customOpenAPI
}

func crdGeneration(c *apiextv1.CustomResourceDefinition) string {
	return fmt.Sprintf("%s/%d", c.UID, c.Generation)
}

// servesGeneration: c's current spec is what is served already.
func (c *crdRegistry) servesGeneration(d *apiextv1.CustomResourceDefinition) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.served[d.Name] == crdGeneration(d)
}

func (c *crdRegistry) setServed(d *apiextv1.CustomResourceDefinition, served []*resource) {
	c.set(d.Name, served)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served == nil {
		c.served = map[string]string{}
	}
	c.served[d.Name] = crdGeneration(d)
}

// forgetExcept stops serving CRDs that are gone from the store.
func (c *crdRegistry) forgetExcept(crds []*apiextv1.CustomResourceDefinition) {
	keep := map[string]bool{}
	for _, d := range crds {
		keep[d.Name] = true
	}
	c.mu.RLock()
	var gone []string
	for name := range c.byCRD {
		if !keep[name] {
			gone = append(gone, name)
		}
	}
	c.mu.RUnlock()
	for _, name := range gone {
		c.set(name, nil)
	}
}

// customResources builds the resources of a compiled CRD, storage version first; the
// other versions are views of it whose objects conv converts (crd_conversion.go), so
// lists, watches and tables of every version read the same store.
func customResources(versions []*crd.Version, conv *crd.Converter) []*resource {
	storage := customResource(versions[0])
	storage.conv = conv
	out := []*resource{storage}
	for _, v := range versions[1:] {
		if !v.Served {
			continue
		}
		r := customResource(v)
		r.view = &view{
			of: storage.gvr, storedRes: storage,
			toStored:       convertTo(storage, conv),
			fromStored:     convertTo(r, conv),
			fromStoredList: convertListTo(r, storage, conv),
		}
		out = append(out, r)
	}
	return out
}

// customResource builds the resource of one compiled CRD version.
func customResource(v *crd.Version) *resource {
	r := &resource{
		gvr: v.GVR, kind: v.Kind, singular: v.Singular, namespaced: v.Namespaced,
		shortNames: v.ShortNames, categories: v.Categories, hasStatus: v.Status, bumpGeneration: true,
		custom:  v,
		prefix:  customPrefix + v.GVR.Group + "/" + v.GVR.Resource + "/",
		newObj:  func() runtime.Object { return &unstructured.Unstructured{} },
		newList: func() runtime.Object { return &unstructured.UnstructuredList{} },
	}
	if v.Status {
		r.subresources = append(r.subresources, "status")
	}
	if v.Scale != nil {
		r.subresources = append(r.subresources, "scale")
	}
	return r
}

// set replaces what CRD name serves (nil: nothing).
func (c *crdRegistry) set(name string, served []*resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCRD == nil {
		c.byCRD = map[string][]*resource{}
	}
	if served == nil {
		delete(c.served, name)
		if _, ok := c.byCRD[name]; !ok {
			return
		}
		delete(c.byCRD, name)
	} else {
		c.byCRD[name] = served
	}
	c.byGV = map[schema.GroupVersion][]*resource{}
	for _, rs := range c.byCRD {
		for _, r := range rs {
			if r.custom.Served {
				gv := r.gvr.GroupVersion()
				c.byGV[gv] = append(c.byGV[gv], r)
			}
		}
	}
	for _, rs := range c.byGV {
		sort.Slice(rs, func(i, j int) bool { return rs[i].gvr.Resource < rs[j].gvr.Resource })
	}
	c.gen++
}

func (c *crdRegistry) find(gv schema.GroupVersion, plural string) *resource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, r := range c.byGV[gv] {
		if r.gvr.Resource == plural {
			return r
		}
	}
	return nil
}

func (c *crdRegistry) inGroupVersion(gv schema.GroupVersion) []*resource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byGV[gv]
}

// groups are the served custom group versions, by group (sorted), each group's
// versions in kube's priority order (v2 before v1 before v1beta1...).
func (c *crdRegistry) groups() [][]schema.GroupVersion {
	c.mu.RLock()
	byGroup := map[string][]schema.GroupVersion{}
	for gv := range c.byGV {
		byGroup[gv.Group] = append(byGroup[gv.Group], gv)
	}
	c.mu.RUnlock()
	names := make([]string, 0, len(byGroup))
	for g := range byGroup {
		names = append(names, g)
	}
	sort.Strings(names)
	out := make([][]schema.GroupVersion, 0, len(names))
	for _, g := range names {
		vs := byGroup[g]
		sort.Slice(vs, func(i, j int) bool { return versionPriority(vs[i].Version, vs[j].Version) })
		out = append(out, vs)
	}
	return out
}

// versionPriority orders Kubernetes versions as kube does: GA before beta before
// alpha, higher numbers first; other names last, alphabetically.
func versionPriority(a, b string) bool {
	ka, kb := versionKey(a), versionKey(b)
	if ka[0] != kb[0] {
		return ka[0] > kb[0]
	}
	if ka[1] != kb[1] {
		return ka[1] > kb[1]
	}
	if ka[2] != kb[2] {
		return ka[2] > kb[2]
	}
	return a < b
}

// versionKey is (stability, major, minor): stability 3 GA, 2 beta, 1 alpha, 0 other.
func versionKey(v string) [3]int {
	var major, minor int
	var rest string
	if n, _ := fmt.Sscanf(v, "v%d%s", &major, &rest); n == 0 {
		return [3]int{0, 0, 0}
	}
	switch {
	case rest == "":
		return [3]int{3, major, 0}
	case strings.HasPrefix(rest, "beta"):
		fmt.Sscanf(rest, "beta%d", &minor)
		return [3]int{2, major, minor}
	case strings.HasPrefix(rest, "alpha"):
		fmt.Sscanf(rest, "alpha%d", &minor)
		return [3]int{1, major, minor}
	}
	return [3]int{0, 0, 0}
}

// byKey is the served storage resource whose objects live at a store key, or nil.
func (c *crdRegistry) byKey(key string) *resource {
	rest, ok := strings.CutPrefix(key, customPrefix)
	if !ok {
		return nil
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 3 {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, rs := range c.byCRD {
		if r := rs[0]; r.gvr.Group == parts[0] && r.gvr.Resource == parts[1] {
			return r
		}
	}
	return nil
}

// storageResources are the served CRDs' storage-version resources (each kind once).
func (c *crdRegistry) storageResources() []*resource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*resource, 0, len(c.byCRD))
	for _, rs := range c.byCRD {
		out = append(out, rs[0])
	}
	return out
}

// findAny looks a resource up among the built-in ones, then the custom ones.
func (s *Server) findAny(gv schema.GroupVersion, plural string) *resource {
	if r := findResource(gv, plural); r != nil {
		return r
	}
	return s.crds.find(gv, plural)
}

// decodeUnserved decodes a custom object whose CRD is not served (not yet, while the
// server starts, or not any more) as it was stored, so the watch cache holds it:
// metadata.name and namespace are its fields.
func decodeUnserved(kv store.KeyValue) (*watchcache.Object, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(kv.Value); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	setRV(u, kv.ModRevision)
	fs := fields.Set{"metadata.name": u.GetName()}
	if strings.Count(strings.TrimPrefix(kv.Key, customPrefix), "/") == 3 {
		fs["metadata.namespace"] = u.GetNamespace()
	}
	return watchcache.NewObject(kv.Key, kv.ModRevision, u, labels.Set(u.GetLabels()), fs), nil
}

// checkCustomPatch refuses a strategic merge patch of a custom resource, as
// kube-apiserver: its schema says nothing of how lists merge.
func checkCustomPatch(r *http.Request, res *resource) error {
	if res.custom == nil || r.Method != http.MethodPatch {
		return nil
	}
	if pt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); pt != strategicPatchType {
		return nil
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: " +
			"application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
	}}
}

// decodeCustom decodes a custom resource as kube-apiserver: strictly (duplicate and
// unknown fields, pruned by the schema, are errors under fieldValidation Strict), with
// its metadata coerced and its schema's defaults set.
func decodeCustom(r *resource, data []byte, opts decodeOpts) (runtime.Object, error) {
	if err := checkKindFirst(r, data); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, badRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", r.kind, r.gvr.Version, r.kind, err))
	}
	if err := checkTypeMeta(r.gvk(), u); err != nil {
		return nil, err
	}
	var strictErrs []string
	var m map[string]any
	if errs, err := sigsjson.UnmarshalStrict(data, &m, sigsjson.DisallowDuplicateFields); err == nil {
		for _, e := range errs {
			strictErrs = append(strictErrs, e.Error())
		}
	}
	unknown, err := r.custom.Decode(u)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", r.kind, r.gvr.Version, r.kind, err))
	}
	msgs := strictErrs
	for _, f := range unknown {
		msgs = append(msgs, fmt.Sprintf("unknown field %q", f))
	}
	if len(msgs) > 0 {
		if !opts.ignoreUnknown {
			return nil, badRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
				r.kind, r.gvr.Version, r.kind, strings.Join(msgs, ", ")))
		}
		for _, m := range msgs {
			if opts.warn != nil {
				opts.warn(m)
			}
		}
	}
	return u, nil
}

// admitCustom validates a new custom resource against its version's schema; with a
// status subresource the status a client sends on create is dropped, as kube's.
func (s *Server) admitCustom(ctx context.Context, u *unstructured.Unstructured) error {
	r := s.crds.byKind(u.GroupVersionKind())
	if r == nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("%s is not served", u.GroupVersionKind()))
	}
	if r.custom.Status {
		delete(u.Object, "status")
	}
	if errs := r.custom.Validate(ctx, u, nil); len(errs) > 0 {
		return apierrors.NewInvalid(r.gvk().GroupKind(), u.GetName(), errs)
	}
	return nil
}

// byKind is the resource of a kind at a version, served or the storage version's.
func (c *crdRegistry) byKind(gvk schema.GroupVersionKind) *resource {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, rs := range c.byCRD {
		for _, r := range rs {
			if r.gvk() == gvk {
				return r
			}
		}
	}
	return nil
}

// admitCRD defaults and validates a new CRD, as kube's CRD strategy.
func admitCRD(ctx context.Context, c *apiextv1.CustomResourceDefinition) error {
	crd.Default(c)
	crd.PrepareForCreate(c)
	if errs := crd.Validate(ctx, c); len(errs) > 0 {
		return apierrors.NewInvalid(crdResource.gvk().GroupKind(), c.Name, errs)
	}
	return nil
}

// prepareCustomUpdate is prepareUpdate for a custom resource: what clients may not
// change is kept, status changes only through /status (when served), generation
// counts changes to anything but metadata and status, and the schema validates.
func (s *Server) prepareCustomUpdate(ctx context.Context, r *resource, sub string, nextObj, oldObj runtime.Object) (runtime.Object, error) {
	next, old := nextObj.(*unstructured.Unstructured), oldObj.(*unstructured.Unstructured)
	if sub == "status" {
		out := old.DeepCopy()
		if st, ok := next.Object["status"]; ok {
			out.Object["status"] = st
		} else {
			delete(out.Object, "status")
		}
		out.SetLabels(next.GetLabels()) // kube keeps metadata from the status write too
		out.SetAnnotations(next.GetAnnotations())
		out.SetManagedFields(next.GetManagedFields())
		next = out
	} else if r.hasStatus {
		if st, ok := old.Object["status"]; ok {
			next.Object["status"] = st
		} else {
			delete(next.Object, "status")
		}
	}
	keepSystemMeta(next, old)
	next.SetGroupVersionKind(r.gvk())
	if specChanged(next, old) {
		next.SetGeneration(old.GetGeneration() + 1)
	}
	var errs field.ErrorList
	if sub == "status" {
		errs = r.custom.ValidateStatus(ctx, next, old)
	} else {
		errs = r.custom.Validate(ctx, next, old)
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(r.gvk().GroupKind(), next.GetName(), errs)
	}
	return next, nil
}

// specChanged: anything but metadata and status differs.
func specChanged(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		m := make(map[string]any, len(u.Object))
		for k, v := range u.Object {
			if k != "metadata" && k != "status" {
				m[k] = v
			}
		}
		return m
	}
	return !reflect.DeepEqual(strip(a), strip(b))
}

// validateCRDUpdate checks a changed CRD (spec or, through /status, status).
func validateCRDUpdate(ctx context.Context, sub string, next, old runtime.Object) error {
	c, ok := next.(*apiextv1.CustomResourceDefinition)
	if !ok {
		return nil
	}
	oc := old.(*apiextv1.CustomResourceDefinition)
	var errs field.ErrorList
	if sub == "status" {
		errs = crd.ValidateStatusUpdate(c, oc)
	} else {
		crd.Default(c)
		crd.PrepareForUpdate(c)
		errs = crd.ValidateUpdate(ctx, c, oc)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(crdResource.gvk().GroupKind(), c.Name, errs)
	}
	return nil
}
