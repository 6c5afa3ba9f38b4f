package apiserver_test

import (
	"encoding/json"
	"testing"

	"webkube/cluster/apiserver/apiservertest"
)

// /openapi/v2 as client-go's discovery reads it (protobuf, what helm asks for) and as
// JSON: every served kind's definition, marked with its group, version and kind.
func TestOpenAPIV2(t *testing.T) {
	srv := apiservertest.Start(t)
	doc, err := srv.Clientset().Discovery().OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	defs := map[string]string{}
	for _, p := range doc.GetDefinitions().GetAdditionalProperties() {
		for _, ext := range p.GetValue().GetVendorExtension() {
			if ext.GetName() == "x-kubernetes-group-version-kind" {
				defs[p.GetName()] = ext.GetValue().GetYaml()
			}
		}
	}
	for _, name := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.apps.v1.Deployment", "io.k8s.api.batch.v1.Job",
		"io.k8s.api.rbac.v1.Role", "io.k8s.api.authorization.v1.SelfSubjectAccessReview"} {
		if defs[name] == "" {
			t.Errorf("no %s with its group-version-kind among %d definitions", name, len(defs))
		}
	}
	code, out := call(t, srv, "GET", "/openapi/v2", "", nil, "Accept", "application/json")
	var v2 struct {
		Swagger     string
		Definitions map[string]struct {
			Properties map[string]map[string]any
		}
	}
	if err := json.Unmarshal(out, &v2); code != 200 || err != nil || v2.Swagger != "2.0" {
		t.Fatalf("GET /openapi/v2: %d %v %.200s", code, err, out)
	}
	spec := v2.Definitions["io.k8s.api.core.v1.Pod"].Properties["spec"]
	if ref, _ := spec["allOf"].([]any); len(ref) != 1 || ref[0].(map[string]any)["$ref"] != "#/definitions/io.k8s.api.core.v1.PodSpec" {
		t.Fatalf("Pod.spec: %v", spec)
	}
}
