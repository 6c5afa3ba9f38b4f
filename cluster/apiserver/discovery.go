package apiserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// aggregatedContentType is the exact media type kubectl v1.32 needs to take /api and
// /apis as aggregated discovery (with plain application/json it finds no resources).
const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

var verbsAll = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// verbs are the verbs discovery lists for r: reviews are only created.
func (r *resource) verbs() []string {
	if r.review {
		return []string{"create"}
	}
	if r.metrics {
		return []string{"get", "list"}
	}
	return verbsAll
}

func subresourceInfo(r *resource, sub string) (kind schema.GroupVersionKind, verbs []string) {
	switch sub {
	case "status":
		return r.gvk(), []string{"get", "patch", "update"}
	case "scale":
		return schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, []string{"get", "patch", "update"}
	case "binding":
		return coreV1.WithKind("Binding"), []string{"create"}
	case "log":
		return coreV1.WithKind("Pod"), []string{"get"}
	case "exec":
		return coreV1.WithKind("PodExecOptions"), []string{"create", "get"}
	case "ephemeralcontainers":
		return r.gvk(), []string{"get", "patch", "update"}
	case "attach":
		return coreV1.WithKind("PodAttachOptions"), []string{"create", "get"}
	case "portforward":
		return coreV1.WithKind("PodPortForwardOptions"), []string{"create", "get"}
	case "token":
		return tokenRequestGVK, []string{"create"}
	case "eviction":
		return evictionGVK, []string{"create"}
	}
	return r.gvk(), nil
}

func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && params["as"] == "APIGroupDiscoveryList" && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" {
			return true
		}
	}
	return false
}

// groupsInOrder is groupVersions by group, in discovery's order, each group's
// versions preferred first (autoscaling: v2, v1).
func groupsInOrder() [][]schema.GroupVersion {
	var groups [][]schema.GroupVersion
	at := map[string]int{}
	for _, gv := range groupVersions {
		i, ok := at[gv.Group]
		if !ok {
			i = len(groups)
			at[gv.Group] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], gv)
	}
	return groups
}

func aggregatedDiscovery(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
	}
	for _, group := range groupsInOrder() {
		if (group[0].Group == "") != core {
			continue
		}
		g := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: group[0].Group}}
		for _, gv := range group {
			g.Versions = append(g.Versions, versionDiscovery(gv))
		}
		list.Items = append(list.Items, g)
	}
	return list
}

func versionDiscovery(gv schema.GroupVersion) apidiscoveryv2.APIVersionDiscovery {
	return versionDiscoveryOf(gv, resourceTable)
}

func versionDiscoveryOf(gv schema.GroupVersion, resources []*resource) apidiscoveryv2.APIVersionDiscovery {
	vd := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
	for _, r := range resources {
		if r.gvr.GroupVersion() != gv {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		gvk := r.gvk()
		rd := apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.gvr.Resource,
			ResponseKind:     &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Scope:            scope,
			SingularResource: r.singular,
			Verbs:            r.verbs(),
			ShortNames:       r.shortNames,
			Categories:       r.categories,
		}
		for _, sub := range r.subresources {
			k, verbs := subresourceInfo(r, sub)
			rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  sub,
				ResponseKind: &metav1.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind},
				Verbs:        verbs,
			})
		}
		vd.Resources = append(vd.Resources, rd)
	}
	return vd
}

// serveDiscoveryRoot answers /api (core) and /apis, aggregated when asked for.
func (s *Server) serveDiscoveryRoot(w http.ResponseWriter, r *http.Request, core bool) {
	w.Header().Set("Vary", "Accept")
	if wantsAggregated(r) {
		list := aggregatedDiscovery(core)
		if !core {
			list.Items = append(list.Items, s.customDiscovery()...)
		}
		data, err := json.Marshal(list)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", aggregatedContentType)
		_, _ = w.Write(data)
		return
	}
	if core {
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
		return
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, group := range groupsInOrder() {
		if group[0].Group != "" {
			list.Groups = append(list.Groups, apiGroup(group))
		}
	}
	for _, group := range s.crds.groups() {
		list.Groups = append(list.Groups, apiGroup(group))
	}
	writeJSON(w, http.StatusOK, list)
}

// apiGroup is a group's legacy discovery: its versions, the first preferred.
func apiGroup(versions []schema.GroupVersion) metav1.APIGroup {
	g := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: versions[0].Group}
	for _, gv := range versions {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request, group string) {
	for _, versions := range groupsInOrder() {
		if versions[0].Group == group && group != "" {
			writeJSON(w, http.StatusOK, apiGroup(versions))
			return
		}
	}
	for _, versions := range s.crds.groups() {
		if versions[0].Group == group {
			writeJSON(w, http.StatusOK, apiGroup(versions))
			return
		}
	}
	s.writeError(w, r, errNoRoute)
}

// serveResourceList answers legacy discovery for one group version (/api/v1, /apis/apps/v1).
func (s *Server) serveResourceList(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion) {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, res := range slices.Concat(resourceTable, s.crds.inGroupVersion(gv)) {
		if res.gvr.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: res.gvr.Resource, SingularName: res.singular, Namespaced: res.namespaced, Kind: res.kind,
			Verbs: res.verbs(), ShortNames: res.shortNames, Categories: res.categories,
		})
		for _, sub := range res.subresources {
			k, verbs := subresourceInfo(res, sub)
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.gvr.Resource + "/" + sub, Namespaced: res.namespaced, Group: k.Group, Version: k.Version, Kind: k.Kind, Verbs: verbs,
			})
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// --- OpenAPI v3 ---

// openAPI holds the small OpenAPI v3 documents kubectl apply needs: per resource, a patch
// operation with its group-version-kind and the fieldValidation parameter, which tells
// kubectl the server validates fields itself (it then sends fieldValidation=Strict).
type openAPI struct {
	once  sync.Once
	index []byte
	docs  map[string][]byte // "api/v1" → document
}

var openAPIDocs openAPI

var patchBody = map[string]any{"schema": map[string]any{"type": "object"}}

// builtinPatchTypes are what a built-in kind may be patched with. kubectl apply computes
// strategic merge patches from the schemas only when the operation says it accepts them.
var builtinPatchTypes = map[string]any{
	applyPatchType: patchBody, jsonPatchType: patchBody, mergePatchType: patchBody, strategicPatchType: patchBody,
}

// patchOperation is a resource's patch operation at /<prefix>/[namespaces/{namespace}/]<resource>/{name}:
// kubectl reads the kind, the query parameters and the patch types it accepts from it.
func patchOperation(r *resource, prefix string, patchTypes map[string]any) (path string, item map[string]any) {
	gvk := r.gvk()
	op := map[string]any{
		"operationId":                     "patch" + r.kind,
		"x-kubernetes-action":             "patch",
		"x-kubernetes-group-version-kind": map[string]string{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind},
		"parameters": []map[string]any{
			{"name": "dryRun", "in": "query", "schema": map[string]string{"type": "string"}},
			{"name": "fieldManager", "in": "query", "schema": map[string]string{"type": "string"}},
			{"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"}},
			{"name": "force", "in": "query", "schema": map[string]string{"type": "boolean"}},
		},
		"requestBody": map[string]any{"content": patchTypes},
		"responses":   map[string]any{"200": map[string]any{"description": "OK"}},
	}
	path = "/" + prefix + "/" + r.gvr.Resource + "/{name}"
	if r.namespaced {
		path = "/" + prefix + "/namespaces/{namespace}/" + r.gvr.Resource + "/{name}"
	}
	return path, map[string]any{"patch": op}
}

func (o *openAPI) build() {
	o.docs = map[string][]byte{}
	paths := map[string]any{}
	for _, gv := range groupVersions {
		prefix := "apis/" + gv.String()
		if gv.Group == "" {
			prefix = "api/v1"
		}
		docPaths := map[string]any{}
		var inGroup []*resource
		for _, r := range resourceTable {
			if r.gvr.GroupVersion() != gv {
				continue
			}
			inGroup = append(inGroup, r)
			path, item := patchOperation(r, prefix, builtinPatchTypes)
			docPaths[path] = item
		}
		doc, _ := json.Marshal(map[string]any{
			"openapi":    "3.0.0",
			"info":       map[string]string{"title": "Kubernetes", "version": Version.GitVersion},
			"paths":      docPaths,
			"components": map[string]any{"schemas": groupSchemas(inGroup)},
		})
		sum := sha256.Sum256(doc)
		o.docs[prefix] = doc
		paths[prefix] = map[string]string{"serverRelativeURL": "/openapi/v3/" + prefix + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
	}
	o.index, _ = json.Marshal(map[string]any{"paths": paths})
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	openAPIDocs.once.Do(openAPIDocs.build)
	p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	custom, err := s.openAPIState()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if p == "" {
		_, _ = w.Write(custom.index)
		return
	}
	doc, ok := openAPIDocs.docs[p]
	if !ok {
		doc, ok = custom.docs[p]
	}
	if !ok {
		s.writeError(w, r, errNoRoute)
		return
	}
	if r.URL.Query().Get("hash") != "" {
		w.Header().Set("Cache-Control", "public, immutable")
	}
	_, _ = w.Write(doc)
}
