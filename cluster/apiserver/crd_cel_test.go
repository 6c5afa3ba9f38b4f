package apiserver_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"webkube/cluster/apiserver/apiservertest"
)

var scalers = schema.GroupVersionResource{Group: "cel.example.com", Version: "v1", Resource: "scalers"}

func scaler(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cel.example.com/v1", "kind": "Scaler",
		"metadata": map[string]any{"name": name}, "spec": spec,
	}}
}

// wantInvalid checks err is kube's 422 for a Scaler with exactly these causes, each
// "field: detail" as kube-apiserver words it (in any order: kube's rules run over
// an object's fields in map order).
func wantInvalid(t *testing.T, err error, name string, causes ...string) {
	t.Helper()
	var st apierrors.APIStatus
	if err == nil || !asStatus(err, &st) {
		t.Fatalf("want 422 with %q, got %v", causes, err)
	}
	s := st.Status()
	prefix := `Scaler.cel.example.com "` + name + `" is invalid: `
	if s.Code != http.StatusUnprocessableEntity || s.Reason != metav1.StatusReasonInvalid ||
		!strings.HasPrefix(s.Message, prefix) || len(s.Details.Causes) != len(causes) {
		t.Fatalf("want 422 %s%q\ngot %d %s %q", prefix, causes, s.Code, s.Reason, s.Message)
	}
	if len(causes) == 1 && s.Message != prefix+causes[0] {
		t.Fatalf("want %q\ngot  %q", prefix+causes[0], s.Message)
	}
	for _, c := range causes {
		if !strings.Contains(s.Message, c) {
			t.Fatalf("want %q in %q", c, s.Message)
		}
	}
}

// The CEL rules of a CRD's schema (x-kubernetes-validations) are checked on create
// and update as kube-apiserver checks them: a rule on a field, a messageExpression, a
// reason with a fieldPath, a transition rule with oldSelf, and no rules run over an
// object whose schema already failed.
func TestCustomResourceCELRules(t *testing.T) {
	srv := apiservertest.Start(t)
	applyCRD(t, srv, "scaler-crd.yml")
	sc := dynamic.NewForConfigOrDie(srv.RESTConfig()).Resource(scalers).Namespace("default")
	ctx := context.Background()

	_, err := sc.Create(ctx, scaler("a", map[string]any{"replicas": int64(11)}), metav1.CreateOptions{})
	wantInvalid(t, err, "a", `spec.replicas: Invalid value: "integer": must be <= 10`)
	_, err = sc.Create(ctx, scaler("a", map[string]any{"minReplicas": int64(5), "maxReplicas": int64(3)}), metav1.CreateOptions{})
	wantInvalid(t, err, "a", `spec: Invalid value: "object": minReplicas is above maxReplicas`)
	_, err = sc.Create(ctx, scaler("a", map[string]any{"paused": true, "replicas": int64(2)}), metav1.CreateOptions{})
	wantInvalid(t, err, "a", `spec.replicas: Forbidden: a paused scaler has no replicas`)
	_, err = sc.Create(ctx, scaler("a", map[string]any{"replicas": "two", "minReplicas": int64(5), "maxReplicas": int64(3)}), metav1.CreateOptions{})
	wantInvalid(t, err, "a", `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
		`<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`)

	// The defaults (0 and 10) are set before the rules run.
	a, err := sc.Create(ctx, scaler("a", map[string]any{"replicas": int64(3), "mode": "fast"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A transition rule: mode may not change, other fields may.
	a.Object["spec"].(map[string]any)["replicas"] = int64(4)
	if a, err = sc.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.Object["spec"].(map[string]any)["mode"] = "slow"
	_, err = sc.Update(ctx, a, metav1.UpdateOptions{})
	wantInvalid(t, err, "a", `spec.mode: Invalid value: "string": mode is immutable`)
	_, err = sc.Patch(ctx, "a", "application/merge-patch+json", []byte(`{"spec":{"mode":"slow","replicas":12}}`), metav1.PatchOptions{})
	wantInvalid(t, err, "a", `spec.replicas: Invalid value: "integer": must be <= 10`, `spec.mode: Invalid value: "string": mode is immutable`)
	got, err := sc.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || got.Object["spec"].(map[string]any)["mode"] != "fast" || got.Object["spec"].(map[string]any)["replicas"] != int64(4) {
		t.Fatalf("after refused updates: %v %v", err, got)
	}
}

// A CRD whose CEL rule does not compile is refused at create with kube's message, at
// the rule's field.
func TestCustomResourceDefinitionBadCELRule(t *testing.T) {
	srv := apiservertest.Start(t)
	data, err := os.ReadFile("testdata/scaler-bad-rule-crd.yml")
	if err != nil {
		t.Fatal(err)
	}
	body, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	code, out := call(t, srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", body)
	st := status(t, out)
	if code != http.StatusUnprocessableEntity || len(st.Details.Causes) != 1 ||
		!strings.HasSuffix(st.Message, "compilation failed: ERROR: <input>:1:5: undefined field 'replicas'\n | self.replicas > 0\n | ....^") ||
		st.Details.Causes[0].Field != "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule" {
		t.Fatalf("%d %s", code, out)
	}
}
