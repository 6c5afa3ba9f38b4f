package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
)

var crontabs = schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "crontabs"}

// applyCRD creates the CRD in testdata/file and waits until it is Established.
func applyCRD(t *testing.T, srv *apiservertest.Server, file string) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	body, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var c apiextv1.CustomResourceDefinition
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body); code != http.StatusCreated {
		t.Fatalf("creating CRD: %d %s", code, out)
	}
	waitEstablished(t, srv, c.Name)
}

func waitEstablished(t *testing.T, srv *apiservertest.Server, name string) {
	t.Helper()
	eventually.That(t, 10*time.Second, "CRD "+name+" established", func() (bool, string) {
		_, out := call(t, srv, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, "", nil)
		var c apiextv1.CustomResourceDefinition
		if err := json.Unmarshal(out, &c); err != nil {
			return false, err.Error()
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apiextv1.Established && cond.Status == apiextv1.ConditionTrue {
				return true, ""
			}
		}
		return false, string(out)
	})
}

func cronTab(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "stable.example.com/v1", "kind": "CronTab",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app": name}},
		"spec":     spec,
	}}
}

// Custom resources through client-go's dynamic client: defaulting and pruning on
// create, the status subresource's rules, generation, selectors, a watch, and a
// restart of the API server (objects decoded before the CRD is served again).
func TestCustomResourcesDynamicClient(t *testing.T) {
	srv := apiservertest.Start(t)
	applyCRD(t, srv, "crontab-crd.yml")
	dc := dynamic.NewForConfigOrDie(srv.RESTConfig())
	ct := dc.Resource(crontabs).Namespace("default")
	ctx := context.Background()

	w, err := ct.Watch(ctx, metav1.ListOptions{LabelSelector: "app=a"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Ignore drops the unknown field (pruning) instead of refusing it.
	obj := cronTab("a", map[string]any{"cronSpec": "* * * * *", "unknown": true})
	obj.Object["status"] = map[string]any{"replicas": int64(5)}
	a, err := ct.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Ignore"})
	if err != nil {
		t.Fatal(err)
	}
	spec := a.Object["spec"].(map[string]any)
	if _, ok := spec["unknown"]; ok || spec["replicas"] != int64(1) || spec["size"] != "small" || a.Object["status"] != nil || a.GetGeneration() != 1 {
		t.Fatalf("created: %v", a.Object)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "ADDED" || ev.Object.(*unstructured.Unstructured).GetName() != "a" {
			t.Fatalf("watch: %v %v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
	if _, err := ct.Create(ctx, cronTab("b", map[string]any{"cronSpec": "not a schedule"}), metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), `spec.cronSpec: Invalid value: "not a schedule": spec.cronSpec in body should match`) {
		t.Fatalf("bad cronSpec: %v", err)
	}
	if _, err := ct.Create(ctx, cronTab("b", map[string]any{}), metav1.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "spec.cronSpec: Required value") {
		t.Fatalf("missing cronSpec: %v", err)
	}
	if _, err := ct.Create(ctx, cronTab("b", map[string]any{"cronSpec": "1 * * * *"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Status changes only through /status; spec changes bump generation.
	a.Object["status"] = map[string]any{"replicas": int64(2)}
	a.Object["spec"].(map[string]any)["image"] = "x"
	a, err = ct.Update(ctx, a, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Object["status"] != nil || a.GetGeneration() != 2 {
		t.Fatalf("update kept status or missed generation: %v", a.Object)
	}
	a.Object["status"] = map[string]any{"replicas": int64(2), "labelSelector": "app=a"}
	a.Object["spec"].(map[string]any)["image"] = "ignored"
	a, err = ct.UpdateStatus(ctx, a, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Object["spec"].(map[string]any)["image"] != "x" || a.GetGeneration() != 2 {
		t.Fatalf("status update: %v", a.Object)
	}
	a.Object["status"] = map[string]any{"replicas": "two"}
	if _, err := ct.UpdateStatus(ctx, a, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), `status.replicas: Invalid value: "string": replicas in body must be of type integer`) {
		t.Fatalf("bad status: %v", err)
	}
	sc, err := ct.Get(ctx, "a", metav1.GetOptions{}, "scale")
	if err != nil {
		t.Fatal(err)
	}
	if s := sc.Object["status"].(map[string]any); s["replicas"] != int64(2) || s["selector"] != "app=a" {
		t.Fatalf("scale: %v", sc.Object)
	}

	list, err := ct.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=b"})
	if err != nil || len(list.Items) != 1 || list.Items[0].GetName() != "b" {
		t.Fatalf("field selector: %v %v", err, list)
	}
	if _, err := ct.List(ctx, metav1.ListOptions{FieldSelector: "spec.image=x"}); err == nil {
		t.Fatal("a field selector on an unindexed field was accepted")
	}
	all, err := dc.Resource(crontabs).List(ctx, metav1.ListOptions{})
	if err != nil || len(all.Items) != 2 {
		t.Fatalf("all namespaces: %v %v", err, all)
	}

	srv.Restart(t)
	dc = dynamic.NewForConfigOrDie(srv.RESTConfig())
	eventually.That(t, 10*time.Second, "CronTabs listed after a restart", func() (bool, string) {
		list, err := dc.Resource(crontabs).Namespace("default").List(ctx, metav1.ListOptions{LabelSelector: "app=a"})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 1 && list.Items[0].GetAPIVersion() == "stable.example.com/v1", list.Items[0].GetAPIVersion()
	})
}

// Discovery (aggregated and legacy) and both OpenAPI documents list an established
// CRD's kind; a CRD whose names another one holds is not accepted.
func TestCustomResourceDiscoveryAndNames(t *testing.T) {
	srv := apiservertest.Start(t)
	applyCRD(t, srv, "crontab-crd.yml")

	_, out := call(t, srv, "GET", "/apis", "", nil, "Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	if !contains(string(out), `"name":"stable.example.com"`, `"resource":"crontabs"`, `"subresource":"scale"`, `"shortNames":["ct"]`) {
		t.Fatalf("aggregated discovery: %s", out)
	}
	_, out = call(t, srv, "GET", "/apis/stable.example.com/v1", "", nil)
	if !contains(string(out), `"name":"crontabs"`, `"name":"crontabs/status"`, `"kind":"CronTab"`) {
		t.Fatalf("legacy discovery: %s", out)
	}
	_, out = call(t, srv, "GET", "/apis/stable.example.com", "", nil)
	if !contains(string(out), `"preferredVersion":{"groupVersion":"stable.example.com/v1"`) {
		t.Fatalf("group: %s", out)
	}
	_, out = call(t, srv, "GET", "/openapi/v3", "", nil)
	if !contains(string(out), `"apis/stable.example.com/v1"`, `"apis/apps/v1"`) {
		t.Fatalf("openapi index: %s", out)
	}
	_, out = call(t, srv, "GET", "/openapi/v3/apis/stable.example.com/v1", "", nil)
	if !contains(string(out), `"com.example.stable.v1.CronTab"`, `"cronSpec"`, `"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"`) {
		t.Fatalf("openapi v3: %.2000s", out)
	}
	code, out := call(t, srv, "GET", "/openapi/v2", "", nil)
	if code != http.StatusOK || !contains(string(out), `"com.example.stable.v1.CronTab"`, `"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"`) {
		t.Fatalf("openapi v2: %d %.500s", code, out)
	}

	// Another CRD claiming the short name "ct" in the same group is not accepted.
	other := `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"cats.stable.example.com"},
	"spec":{"group":"stable.example.com","scope":"Namespaced","names":{"plural":"cats","kind":"Cat","shortNames":["ct"]},
	"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}}]}}`
	if code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", []byte(other)); code != http.StatusCreated {
		t.Fatalf("%d %s", code, out)
	}
	eventually.That(t, 10*time.Second, "cats not accepted", func() (bool, string) {
		_, out := call(t, srv, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/cats.stable.example.com", "", nil)
		return contains(string(out), `"type":"NamesAccepted","status":"False"`, `\"ct\" is already in use`), string(out)
	})
	if code, _ := call(t, srv, "GET", "/apis/stable.example.com/v1/namespaces/default/cats", "", nil); code != http.StatusNotFound {
		t.Fatalf("cats served: %d", code)
	}
}

// A CRD's versions are one set of objects: created in v1beta1, stored in v1, listed
// and watched in either with that version's apiVersion. A strategic merge patch is
// refused as kube-apiserver refuses it; deleting a namespace deletes its custom objects.
func TestCustomResourceVersionsPatchesAndNamespaces(t *testing.T) {
	srv := apiservertest.Start(t)
	applyCRD(t, srv, "shirt-crd.yml")
	dc := dynamic.NewForConfigOrDie(srv.RESTConfig())
	ctx := context.Background()
	v1 := schema.GroupVersionResource{Group: "clothes.example.com", Version: "v1", Resource: "shirts"}
	beta := v1
	beta.Version = "v1beta1"

	w, err := dc.Resource(beta).Namespace("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	shirt := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clothes.example.com/v1beta1", "kind": "Shirt",
		"metadata": map[string]any{"name": "red"}, "spec": map[string]any{"color": "red"},
	}}
	created, err := dc.Resource(beta).Namespace("default").Create(ctx, shirt, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetAPIVersion() != "clothes.example.com/v1beta1" {
		t.Fatalf("created: %v", created.Object)
	}
	select {
	case ev := <-w.ResultChan():
		if got := ev.Object.(*unstructured.Unstructured).GetAPIVersion(); got != "clothes.example.com/v1beta1" {
			t.Fatalf("watch event in %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
	got, err := dc.Resource(v1).Namespace("default").Get(ctx, "red", metav1.GetOptions{})
	if err != nil || got.GetAPIVersion() != "clothes.example.com/v1" || got.Object["spec"].(map[string]any)["size"] != "M" {
		t.Fatalf("v1 get: %v %v", err, got)
	}
	list, err := dc.Resource(beta).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].GetAPIVersion() != "clothes.example.com/v1beta1" {
		t.Fatalf("v1beta1 list: %v %v", err, list)
	}
	if _, err := dc.Resource(beta).Namespace("default").Patch(ctx, "red", "application/merge-patch+json",
		[]byte(`{"spec":{"color":"blue"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	code, out := call(t, srv, "PATCH", "/apis/clothes.example.com/v1/namespaces/default/shirts/red",
		"application/strategic-merge-patch+json", []byte(`{"spec":{"color":"green"}}`))
	if code != http.StatusUnsupportedMediaType || !strings.Contains(string(out), "application/merge-patch+json") {
		t.Fatalf("strategic merge patch: %d %s", code, out)
	}
	_, out = call(t, srv, "GET", "/apis/clothes.example.com/v1/namespaces/default/shirts", "", nil,
		"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if !contains(string(out), `"name":"Color"`, `"cells":["red","blue"]`) {
		t.Fatalf("table: %s", out)
	}

	// A namespace's deletion waits for its custom objects and deletes them.
	if code, out := call(t, srv, "POST", "/api/v1/namespaces", "application/json", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"wardrobe"}}`)); code != http.StatusCreated {
		t.Fatalf("%d %s", code, out)
	}
	shirt.SetNamespace("wardrobe")
	if _, err := dc.Resource(beta).Namespace("wardrobe").Create(ctx, shirt, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, srv, "DELETE", "/api/v1/namespaces/wardrobe", "", nil); code != http.StatusOK {
		t.Fatalf("%d %s", code, out)
	}
	eventually.That(t, 15*time.Second, "namespace wardrobe and its shirt gone", func() (bool, string) {
		code, out := call(t, srv, "GET", "/api/v1/namespaces/wardrobe", "", nil)
		kvs, _, _ := srv.Store.List(ctx, "/registry/customresources/clothes.example.com/shirts/wardrobe/", 0)
		return code == http.StatusNotFound && len(kvs) == 0, string(out)
	})
}
