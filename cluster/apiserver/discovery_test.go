package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"webkube/cluster/apiserver/apiservertest"
)

func TestVersionAndDiscovery(t *testing.T) {
	srv := apiservertest.Start(t)

	t.Run("Version", func(t *testing.T) {
		code, body := call(t, srv, "GET", "/version", "", nil)
		var v version.Info
		if err := json.Unmarshal(body, &v); err != nil || code != 200 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if v.Major != "1" || v.Minor != "32" || !strings.HasPrefix(v.GitVersion, "v1.32.") {
			t.Fatalf("version %+v, want 1.32", v)
		}
		sv, err := srv.Clientset().Discovery().ServerVersion()
		if err != nil || sv.Minor != "32" {
			t.Fatalf("client-go ServerVersion: %v %+v", err, sv)
		}
	})

	t.Run("Aggregated", func(t *testing.T) {
		accept := "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
		req := func(path string) apidiscoveryv2.APIGroupDiscoveryList {
			t.Helper()
			code, body := call(t, srv, "GET", path, "", nil, "Accept", accept)
			var l apidiscoveryv2.APIGroupDiscoveryList
			if err := json.Unmarshal(body, &l); err != nil || code != 200 {
				t.Fatalf("%s: %d %v", path, code, err)
			}
			return l
		}
		// The exact content type matters to kubectl; check it on the wire.
		r, _ := srv.HTTPClient().Do(mustReq(t, srv, "/api", accept))
		r.Body.Close()
		if ct := r.Header.Get("Content-Type"); ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
			t.Fatalf("content type %q", ct)
		}
		core := req("/api")
		res := map[string]apidiscoveryv2.APIResourceDiscovery{}
		for _, g := range append(core.Items, req("/apis").Items...) {
			for _, v := range g.Versions {
				for _, r := range v.Resources {
					res[g.Name+"/"+r.Resource] = r
				}
			}
		}
		want := map[string]string{"/pods": "po", "apps/replicasets": "rs", "apps/deployments": "deploy", "/services": "svc",
			"/endpoints": "ep", "/events": "ev", "/nodes": "no", "/namespaces": "ns", "/configmaps": "cm"}
		for name, short := range want {
			r, ok := res[name]
			if !ok || len(r.ShortNames) == 0 || r.ShortNames[0] != short {
				t.Errorf("%s: %+v, want shortName %s", name, r, short)
			}
		}
		if _, ok := res["discovery.k8s.io/endpointslices"]; !ok {
			t.Error("endpointslices missing")
		}
		for _, name := range []string{"/pods", "/services", "apps/deployments", "apps/replicasets"} {
			if c := res[name].Categories; len(c) != 1 || c[0] != "all" {
				t.Errorf("%s categories %v, want [all]", name, c)
			}
		}
		subs := map[string]bool{}
		for _, s := range res["/pods"].Subresources {
			subs[s.Subresource] = true
		}
		for _, s := range []string{"status", "binding", "log", "exec"} {
			if !subs[s] {
				t.Errorf("pods lacks subresource %s", s)
			}
		}
		if res["/nodes"].Scope != apidiscoveryv2.ScopeCluster || res["/pods"].Scope != apidiscoveryv2.ScopeNamespace {
			t.Error("wrong scopes")
		}
	})

	t.Run("Legacy", func(t *testing.T) {
		groups, resources, err := srv.Clientset().Discovery().ServerGroupsAndResources()
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) < 3 {
			t.Fatalf("groups %v", groups)
		}
		found := map[string]bool{}
		for _, l := range resources {
			for _, r := range l.APIResources {
				found[l.GroupVersion+"/"+r.Name] = true
			}
		}
		for _, n := range []string{"v1/pods", "v1/pods/status", "apps/v1/deployments/scale", "discovery.k8s.io/v1/endpointslices"} {
			if !found[n] {
				t.Errorf("legacy discovery lacks %s", n)
			}
		}
	})

	t.Run("OpenAPIv3", func(t *testing.T) {
		code, body := call(t, srv, "GET", "/openapi/v3", "", nil)
		var idx struct {
			Paths map[string]struct {
				ServerRelativeURL string `json:"serverRelativeURL"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(body, &idx); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
		p, ok := idx.Paths["apis/apps/v1"]
		if !ok || !strings.Contains(p.ServerRelativeURL, "?hash=") {
			t.Fatalf("index %s", body)
		}
		code, doc := call(t, srv, "GET", p.ServerRelativeURL, "", nil)
		if code != 200 || !contains(string(doc), `"fieldValidation"`, `"x-kubernetes-group-version-kind"`, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}") {
			t.Fatalf("apps/v1 document: %d %s", code, doc)
		}
	})

	t.Run("Health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/livez", "/readyz"} {
			if code, body := call(t, srv, "GET", p, "", nil); code != 200 || string(body) != "ok" {
				t.Errorf("%s: %d %s", p, code, body)
			}
		}
	})

	t.Run("TableAndPartial", func(t *testing.T) {
		call(t, srv, "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t","labels":{"a":"b"}}}`))
		code, body := call(t, srv, "GET", "/api/v1/namespaces/default/configmaps", "", nil,
			"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
		var tbl metav1.Table
		if err := json.Unmarshal(body, &tbl); err != nil || code != 200 || tbl.Kind != "Table" || len(tbl.Rows) != 1 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if len(tbl.ColumnDefinitions) == 0 || len(tbl.Rows[0].Cells) != len(tbl.ColumnDefinitions) {
			t.Fatalf("cells do not match columns: %s", body)
		}
		var pom metav1.PartialObjectMetadata
		if err := json.Unmarshal(tbl.Rows[0].Object.Raw, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Labels["a"] != "b" {
			t.Fatalf("row object: %v %s", err, tbl.Rows[0].Object.Raw)
		}
		code, body = call(t, srv, "GET", "/api/v1/namespaces/default/configmaps", "", nil,
			"Accept", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")
		var pl metav1.PartialObjectMetadataList
		if err := json.Unmarshal(body, &pl); err != nil || code != 200 || len(pl.Items) != 1 || pl.Items[0].Name != "t" {
			t.Fatalf("partial list: %d %v %s", code, err, body)
		}
	})
}
