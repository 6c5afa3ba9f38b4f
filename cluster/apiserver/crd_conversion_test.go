package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/crd"
	"webkube/internal/eventually"
)

var (
	addressesV1      = schema.GroupVersionResource{Group: "conv.example.com", Version: "v1", Resource: "addresses"}
	addressesV1alpha = schema.GroupVersionResource{Group: "conv.example.com", Version: "v1alpha1", Resource: "addresses"}
)

// converter is a conversion webhook for Addresses: v1alpha1's spec.host and spec.port
// are v1's spec.hostPort. It counts its calls and the objects it was sent, and fails
// every review with failWith when that is set.
type converter struct {
	calls, objects atomic.Int64
	mu             sync.Mutex
	failWith       string
}

func (c *converter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	var review apiextv1.ConversionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	c.objects.Add(int64(len(review.Request.Objects)))
	resp := &apiextv1.ConversionResponse{UID: review.Request.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
	c.mu.Lock()
	fail := c.failWith
	c.mu.Unlock()
	if fail != "" {
		resp.Result = metav1.Status{Status: metav1.StatusFailure, Message: fail}
	}
	for _, raw := range review.Request.Objects {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw.Raw); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		spec, _ := u.Object["spec"].(map[string]any)
		switch review.Request.DesiredAPIVersion {
		case "conv.example.com/v1":
			u.Object["spec"] = map[string]any{"hostPort": spec["host"].(string) + ":" + spec["port"].(string)}
		case "conv.example.com/v1alpha1":
			host, port, _ := strings.Cut(spec["hostPort"].(string), ":")
			u.Object["spec"] = map[string]any{"host": host, "port": port}
		}
		u.SetAPIVersion(review.Request.DesiredAPIVersion)
		out, _ := u.MarshalJSON()
		resp.ConvertedObjects = append(resp.ConvertedObjects, runtimeRaw(out))
	}
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

// addressCRD is the CRD of Addresses, stored in v1, converted by the webhook at url.
func addressCRD(url string, caBundle []byte) *apiextv1.CustomResourceDefinition {
	str := apiextv1.JSONSchemaProps{Type: "string"}
	version := func(name string, storage bool, spec map[string]apiextv1.JSONSchemaProps) apiextv1.CustomResourceDefinitionVersion {
		return apiextv1.CustomResourceDefinitionVersion{Name: name, Served: true, Storage: storage,
			Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object",
				Properties: map[string]apiextv1.JSONSchemaProps{"spec": {Type: "object", Properties: spec}}}}}
	}
	return &apiextv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: "addresses.conv.example.com"},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: "conv.example.com", Scope: apiextv1.NamespaceScoped,
			Names: apiextv1.CustomResourceDefinitionNames{Plural: "addresses", Singular: "address", Kind: "Address"},
			Versions: []apiextv1.CustomResourceDefinitionVersion{
				version("v1alpha1", false, map[string]apiextv1.JSONSchemaProps{"host": str, "port": str}),
				version("v1", true, map[string]apiextv1.JSONSchemaProps{"hostPort": str}),
			},
			Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.WebhookConverter, Webhook: &apiextv1.WebhookConversion{
				ClientConfig:             &apiextv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
				ConversionReviewVersions: []string{"v1"},
			}},
		},
	}
}

func address(name, host, port string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "conv.example.com/v1alpha1", "kind": "Address",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"host": host, "port": port},
	}}
}

// A CRD converted by a webhook (an httptest TLS server on loopback, trusted through the
// CRD's caBundle): an Address created in v1alpha1 is stored in v1 as the webhook made
// it, read back in either version, listed in v1alpha1 with one ConversionReview for
// the whole list, and watched in v1alpha1; a webhook that refuses gives kube's 500.
func TestCustomResourceConversionWebhook(t *testing.T) {
	conv := &converter{}
	hook := httptest.NewTLSServer(conv)
	defer hook.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})

	srv := apiservertest.Start(t)
	body, _ := json.Marshal(addressCRD(hook.URL+"/convert", ca))
	if code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body); code != http.StatusCreated {
		t.Fatalf("creating CRD: %d %s", code, out)
	}
	waitEstablished(t, srv, "addresses.conv.example.com")
	dc := dynamic.NewForConfigOrDie(srv.RESTConfig())
	alpha, v1 := dc.Resource(addressesV1alpha).Namespace("default"), dc.Resource(addressesV1).Namespace("default")
	ctx := context.Background()

	w, err := alpha.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	created, err := alpha.Create(ctx, address("web", "example.com", "80"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetAPIVersion() != "conv.example.com/v1alpha1" || created.Object["spec"].(map[string]any)["port"] != "80" {
		t.Fatalf("created: %v", created.Object)
	}
	stored, err := v1.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || stored.Object["spec"].(map[string]any)["hostPort"] != "example.com:80" {
		t.Fatalf("in v1: %v %v", err, stored)
	}
	got, err := alpha.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || got.Object["spec"].(map[string]any)["host"] != "example.com" || got.GetUID() != stored.GetUID() {
		t.Fatalf("in v1alpha1: %v %v", err, got)
	}
	select {
	case ev := <-w.ResultChan():
		u := ev.Object.(*unstructured.Unstructured)
		if ev.Type != "ADDED" || u.GetAPIVersion() != "conv.example.com/v1alpha1" || u.Object["spec"].(map[string]any)["port"] != "80" {
			t.Fatalf("watch: %v %v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}

	// A v1 Address listed in v1alpha1 with another: one review for both.
	if _, err := v1.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "conv.example.com/v1", "kind": "Address",
		"metadata": map[string]any{"name": "db"}, "spec": map[string]any{"hostPort": "db.local:5432"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The v1alpha1 watch converts db too, with a call of its own: count the list's calls
	// once that one is made (it was counted with the list's once in CI).
	select {
	case ev := <-w.ResultChan():
		if u := ev.Object.(*unstructured.Unstructured); ev.Type != "ADDED" || u.GetName() != "db" || u.GetAPIVersion() != "conv.example.com/v1alpha1" {
			t.Fatalf("watch: %v %v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event for db")
	}
	calls, objects := conv.calls.Load(), conv.objects.Load()
	list, err := alpha.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 || list.Items[0].Object["spec"].(map[string]any)["port"] != "5432" {
		t.Fatalf("list: %v %v", err, list)
	}
	if c, o := conv.calls.Load()-calls, conv.objects.Load()-objects; c != 1 || o != 2 {
		t.Fatalf("listing 2 objects made %d calls with %d objects, want 1 with 2", c, o)
	}

	// A refusing webhook: the read fails as kube-apiserver's does; v1 still reads.
	conv.mu.Lock()
	conv.failWith = "cannot convert today"
	conv.mu.Unlock()
	_, err = alpha.Get(ctx, "web", metav1.GetOptions{})
	var st apierrors.APIStatus
	want := "conversion webhook for conv.example.com/v1, Kind=Address failed: cannot convert today"
	if err == nil || !asStatus(err, &st) || st.Status().Code != http.StatusInternalServerError ||
		st.Status().Reason != metav1.StatusReasonUnknown || st.Status().Message != want {
		t.Fatalf("want 500 %q, got %v", want, err)
	}
	if _, err := alpha.Create(ctx, address("cache", "cache.local", "6379"), metav1.CreateOptions{}); err == nil ||
		err.Error() != "conversion webhook for conv.example.com/v1alpha1, Kind=Address failed: cannot convert today" {
		t.Fatalf("create through a refusing webhook: %v", err)
	}
	if _, err := v1.Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	// A watch whose events cannot be converted ends (the client lists again).
	w2, err := alpha.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	select {
	case ev, ok := <-w2.ResultChan():
		if ok {
			t.Fatalf("watch through a refusing webhook sent %v %v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch through a refusing webhook did not end")
	}
}

func runtimeRaw(b []byte) runtime.RawExtension { return runtime.RawExtension{Raw: b} }

// The storage version moves from v1alpha1 to v1 (status.storedVersions keeps both):
// an Address stored in v1alpha1 before is converted by the webhook when it is read
// in v1, and stored in v1 when it is written again.
func TestCustomResourceConversionWebhookStorageVersionChange(t *testing.T) {
	conv := &converter{}
	hook := httptest.NewTLSServer(conv)
	defer hook.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})

	srv := apiservertest.Start(t)
	c := addressCRD(hook.URL+"/convert", ca)
	c.Spec.Versions[0].Storage, c.Spec.Versions[1].Storage = true, false
	body, _ := json.Marshal(c)
	if code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body); code != http.StatusCreated {
		t.Fatalf("creating CRD: %d %s", code, out)
	}
	waitEstablished(t, srv, c.Name)
	dc := dynamic.NewForConfigOrDie(srv.RESTConfig())
	alpha, v1 := dc.Resource(addressesV1alpha).Namespace("default"), dc.Resource(addressesV1).Namespace("default")
	ctx := context.Background()
	if _, err := alpha.Create(ctx, address("web", "example.com", "80"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	crds := dc.Resource(apiextv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	cur, err := crds.Get(ctx, c.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	versions := cur.Object["spec"].(map[string]any)["versions"].([]any)
	versions[0].(map[string]any)["storage"], versions[1].(map[string]any)["storage"] = false, true
	updated, err := crds.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sv, _, _ := unstructured.NestedStringSlice(updated.Object, "status", "storedVersions"); strings.Join(sv, ",") != "v1alpha1,v1" {
		t.Fatalf("storedVersions: %v", sv)
	}
	eventually.That(t, 10*time.Second, "the v1alpha1 Address read in v1 through the webhook", func() (bool, string) {
		got, err := v1.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.Object["spec"].(map[string]any)["hostPort"] == "example.com:80", fmt.Sprint(got.Object)
	})
	list, err := v1.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Object["spec"].(map[string]any)["hostPort"] != "example.com:80" {
		t.Fatalf("list in v1: %v %v", err, list)
	}
	// The CRD controller takes the new storage version in the background (as kube-apiserver's
	// CRD handler does), and reads convert either way: an update stores v1 once it has.
	// Each try changes the label, so each is a write.
	tries := 0
	eventually.That(t, 10*time.Second, "an update stored in v1", func() (bool, string) {
		tries++
		got, err := v1.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got.SetLabels(map[string]string{"moved": fmt.Sprint(tries)})
		if _, err := v1.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			return false, err.Error()
		}
		kv, err := srv.Store.Get(ctx, "/registry/customresources/conv.example.com/addresses/default/web")
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(string(kv.Value), `"apiVersion":"conv.example.com/v1"`) &&
			strings.Contains(string(kv.Value), `"hostPort":"example.com:80"`), string(kv.Value)
	})
}

// A conversion webhook given as a Service is reached at the Service's cluster IP and
// port, as kube-apiserver's cluster IP resolver: a port the Service lacks, a headless
// Service and a missing one are errors.
func TestConversionWebhookServiceResolver(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := kubernetes.NewForConfigOrDie(srv.RESTConfig())
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhooks"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("webhooks").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "convert"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := srv.API.ResolveEndpoint("webhooks", "convert", 443)
	if err != nil || u.String() != "https://"+svc.Spec.ClusterIP+":443" {
		t.Fatalf("resolved %v %v", u, err)
	}
	if _, err := srv.API.ResolveEndpoint("webhooks", "convert", 8443); err == nil || err.Error() != `no service port 8443 found for service "convert"` {
		t.Fatalf("wrong port: %v", err)
	}
	if _, err := srv.API.ResolveEndpoint("webhooks", "missing", 443); !apierrors.IsNotFound(err) {
		t.Fatalf("missing service: %v", err)
	}
	if _, err := cs.CoreV1().Services("webhooks").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "headless"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 443}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.API.ResolveEndpoint("webhooks", "headless", 443); err == nil || err.Error() != `cannot route to service with ClusterIP "None"` {
		t.Fatalf("headless: %v", err)
	}
}

// A conversion webhook that does not answer fails the read that needed it after
// crd.WebhookTimeout, with kube's 500.
func TestCustomResourceConversionWebhookTimeout(t *testing.T) {
	// Restored after the server has stopped (cleanups run last first).
	saved := crd.WebhookTimeout
	t.Cleanup(func() { crd.WebhookTimeout = saved })
	crd.WebhookTimeout = time.Second
	release := make(chan struct{})
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})

	srv := apiservertest.Start(t)
	body, _ := json.Marshal(addressCRD(hook.URL+"/convert", ca))
	if code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body); code != http.StatusCreated {
		t.Fatalf("creating CRD: %d %s", code, out)
	}
	waitEstablished(t, srv, "addresses.conv.example.com")
	start := time.Now()
	_, err := dynamic.NewForConfigOrDie(srv.RESTConfig()).Resource(addressesV1alpha).Namespace("default").
		Create(context.Background(), address("web", "example.com", "80"), metav1.CreateOptions{})
	var st apierrors.APIStatus
	if err == nil || !asStatus(err, &st) || st.Status().Code != http.StatusInternalServerError ||
		!strings.HasPrefix(err.Error(), "conversion webhook for conv.example.com/v1alpha1, Kind=Address failed: ") ||
		!strings.Contains(err.Error(), `/convert?timeout=1s": `) {
		t.Fatalf("want kube's 500 for a timed out webhook, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the create took %v", d)
	}
}
