package apiserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/crd"
	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// customCacheResource is the watch cache's one resource for every custom object.
func (s *Server) customCacheResource() watchcache.Resource {
	return watchcache.Resource{Prefix: customPrefix, Decode: func(kv store.KeyValue) (*watchcache.Object, error) {
		if r := s.crds.byKey(kv.Key); r != nil {
			return s.events.entry(r, kv)
		}
		return decodeUnserved(kv)
	}}
}

// customDiscovery is the aggregated discovery of the custom groups.
func (s *Server) customDiscovery() []apidiscoveryv2.APIGroupDiscovery {
	var out []apidiscoveryv2.APIGroupDiscovery
	for _, group := range s.crds.groups() {
		g := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: group[0].Group}}
		for _, gv := range group {
			g.Versions = append(g.Versions, versionDiscoveryOf(gv, s.crds.inGroupVersion(gv)))
		}
		out = append(out, g)
	}
	return out
}

// crdColumns are kube-apiserver's default table's, which CRDs are printed with.
var crdColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// customTable renders custom objects with their CRD's printer columns, and CRDs with
// kube-apiserver's default columns.
func (s *Server) customTable(res *resource, objs []runtime.Object, rv, include string, withColumns bool) (*metav1.Table, error) {
	now := s.clock.Now()
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Rows:     []metav1.TableRow{},
	}
	if withColumns {
		t.ColumnDefinitions = crdColumns
		if res.custom != nil {
			t.ColumnDefinitions = res.custom.Columns()
		}
	}
	for _, obj := range objs {
		m := mustMeta(obj)
		cells := []any{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
		if u, ok := obj.(*unstructured.Unstructured); ok && res.custom != nil {
			cells = res.custom.Cells(u.Object, u.GetName(), now)
		}
		row, err := tableRow(obj, cells, include)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// unstructuredMeta is the ObjectMeta of a custom object.
func unstructuredMeta(u *unstructured.Unstructured) metav1.ObjectMeta {
	var om metav1.ObjectMeta
	if m, ok := u.Object["metadata"].(map[string]any); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(m, &om)
	}
	return om
}

// scaleOf is the autoscaling/v1 Scale of an object: for a custom resource, read at its
// CRD's scale paths, as kube's.
func (r *resource) scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	if r.custom == nil {
		return toScale(obj)
	}
	u := obj.(*unstructured.Unstructured)
	sc := r.custom.Scale
	spec, _, err := unstructured.NestedInt64(u.Object, crd.SplitPath(sc.SpecReplicasPath)...)
	if err != nil {
		return nil, err
	}
	status, _, err := unstructured.NestedInt64(u.Object, crd.SplitPath(sc.StatusReplicasPath)...)
	if err != nil {
		return nil, err
	}
	var selector string
	if sc.LabelSelectorPath != nil {
		if selector, _, err = unstructured.NestedString(u.Object, crd.SplitPath(*sc.LabelSelectorPath)...); err != nil {
			return nil, err
		}
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(),
			ResourceVersion: u.GetResourceVersion(), CreationTimestamp: u.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: int32(spec)},
		Status: autoscalingv1.ScaleStatus{Replicas: int32(status), Selector: selector},
	}, nil
}

func (r *resource) setScaleReplicas(obj runtime.Object, n int32) {
	if r.custom == nil {
		setReplicas(obj, n)
		return
	}
	u := obj.(*unstructured.Unstructured)
	_ = unstructured.SetNestedField(u.Object, int64(n), crd.SplitPath(r.custom.Scale.SpecReplicasPath)...)
}

// --- OpenAPI ---

// customOpenAPI caches the OpenAPI v3 documents of the custom group versions and the
// index listing them with the built-in ones, rebuilt when what is served changes.
type customOpenAPI struct {
	mu    sync.Mutex
	gen   uint64
	index []byte
	docs  map[string][]byte
	v2    *openAPIV2
}

var objectMetaRef = map[string]any{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}

// kindSchema is the OpenAPI schema of one custom kind: its CRD's schema with
// apiVersion, kind and metadata, marked with its group-version-kind.
func kindSchema(r *resource) map[string]any {
	out := map[string]any{"type": "object"}
	if r.custom.Schema != nil {
		raw, _ := json.Marshal(r.custom.Schema)
		_ = json.Unmarshal(raw, &out)
	}
	props, _ := out["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	props["apiVersion"] = map[string]any{"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}
	props["kind"] = map[string]any{"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}
	props["metadata"] = map[string]any{"allOf": []any{objectMetaRef}, "description": "Standard object's metadata."}
	out["properties"] = props
	gvk := r.gvk()
	out["x-kubernetes-group-version-kind"] = []map[string]string{{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}}
	return out
}

// schemaNameOf is kube's definition name for a custom kind: the group reversed.
func schemaNameOf(r *resource) string {
	parts := strings.Split(r.gvr.Group, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".") + "." + r.gvr.Version + "." + r.kind
}

// customPatchTypes are what a custom resource may be patched with: no strategic
// merge patch (kubectl then sends a JSON merge patch).
var customPatchTypes = map[string]any{applyPatchType: patchBody, jsonPatchType: patchBody, mergePatchType: patchBody}

func customGroupDoc(rs []*resource) ([]byte, error) {
	b := &schemaBuilder{schemas: map[string]map[string]any{}}
	b.ref(reflect.TypeOf(metav1.ObjectMeta{}))
	paths := map[string]any{}
	for _, r := range rs {
		b.schemas[schemaNameOf(r)] = kindSchema(r)
		path, item := patchOperation(r, "apis/"+r.gvr.GroupVersion().String(), customPatchTypes)
		paths[path] = item
	}
	return json.Marshal(map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]string{"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
		"paths":      paths,
		"components": map[string]any{"schemas": b.schemas},
	})
}

// openAPIState returns the current custom documents, rebuilding them when the
// served CRDs changed.
func (s *Server) openAPIState() (*customOpenAPI, error) {
	s.crds.mu.RLock()
	gen := s.crds.gen
	s.crds.mu.RUnlock()
	c := &s.crds.openapi
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs != nil && c.gen == gen {
		return c, nil
	}
	openAPIDocs.once.Do(openAPIDocs.build)
	var index struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocs.index, &index); err != nil {
		return nil, err
	}
	docs := map[string][]byte{}
	for _, group := range s.crds.groups() {
		for _, gv := range group {
			doc, err := customGroupDoc(s.crds.inGroupVersion(gv))
			if err != nil {
				return nil, fmt.Errorf("openapi for %s: %w", gv, err)
			}
			p := "apis/" + gv.String()
			docs[p] = doc
			sum := sha256.Sum256(doc)
			index.Paths[p] = map[string]string{"serverRelativeURL": "/openapi/v3/" + p + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
		}
	}
	raw, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	c.gen, c.index, c.docs, c.v2 = gen, raw, docs, nil
	return c, nil
}

// openAPIV2With is /openapi/v2 with the custom kinds' definitions added, built once
// per change of what is served (nil when no CRD is served).
func (s *Server) openAPIV2With() (*openAPIV2, error) {
	c, err := s.openAPIState()
	if err != nil || len(c.docs) == 0 {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.v2 != nil {
		return c.v2, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIV2Doc.json, &doc); err != nil {
		return nil, err
	}
	defs, _ := doc["definitions"].(map[string]any)
	for _, group := range s.crds.groups() {
		for _, gv := range group {
			for _, r := range s.crds.inGroupVersion(gv) {
				defs[schemaNameOf(r)] = toSwagger2(kindSchema(r))
			}
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	raw = []byte(strings.ReplaceAll(string(raw), "#/components/schemas/", "#/definitions/"))
	v2 := &openAPIV2{json: raw}
	parsed, err := openapi_v2.ParseDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi v2: %w", err)
	}
	if v2.proto, err = proto.Marshal(parsed); err != nil {
		return nil, err
	}
	c.v2 = v2
	return v2, nil
}

// toSwagger2 drops what Swagger 2.0 cannot say (nullable, oneOf, anyOf, not), as
// kube-apiserver does when it publishes a CRD's schema in /openapi/v2.
func toSwagger2(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			switch k {
			case "nullable", "oneOf", "anyOf", "not", "allOf":
				if k == "allOf" {
					if items, ok := val.([]any); ok && len(items) == 1 {
						if m, ok := items[0].(map[string]any); ok {
							for mk, mv := range m {
								out[mk] = mv
							}
						}
					}
				}
				continue
			}
			out[k] = toSwagger2(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = toSwagger2(val)
		}
		return out
	}
	return v
}
