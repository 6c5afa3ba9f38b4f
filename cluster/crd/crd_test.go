package crd

import (
	"context"
	"strings"
	"testing"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Colour, type: string, jsonPath: .spec.colour}
    - {name: Made, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer, default: 2, maximum: 5}
              colour: {type: string, enum: [red, blue]}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func compileWidget(t *testing.T) *Version {
	t.Helper()
	var c apiextv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict([]byte(widgetCRD), &c); err != nil {
		t.Fatal(err)
	}
	Default(&c)
	if errs := Validate(context.Background(), &c); len(errs) > 0 {
		t.Fatalf("valid CRD refused: %v", errs)
	}
	vs, err := Compile(&c)
	if err != nil || len(vs) != 1 || !vs[0].Storage || vs[0].ListKind != "WidgetList" || vs[0].Singular != "widget" {
		t.Fatalf("compiled: %v %+v", err, vs)
	}
	return vs[0]
}

func widget(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.org/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z", "bogus": 1},
		"spec":     spec,
	}}
}

// Decoding prunes unknown fields (reporting their paths, metadata's too), keeps those
// under x-kubernetes-preserve-unknown-fields and sets defaults; validation gives
// kube's messages; printer columns read the object.
func TestVersionDecodeValidateAndCells(t *testing.T) {
	v := compileWidget(t)
	u := widget(map[string]any{"colour": "red", "typo": true, "extra": map[string]any{"kept": "yes"}})
	unknown, err := v.Decode(u)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(unknown, ",") != "metadata.bogus,spec.typo" {
		t.Fatalf("unknown fields: %v", unknown)
	}
	spec := u.Object["spec"].(map[string]any)
	if _, ok := spec["typo"]; ok || spec["replicas"] != int64(2) || spec["extra"].(map[string]any)["kept"] != "yes" {
		t.Fatalf("decoded spec: %v", spec)
	}
	if errs := v.Validate(context.Background(), u, nil); len(errs) > 0 {
		t.Fatalf("valid widget refused: %v", errs)
	}
	now, _ := time.Parse(time.RFC3339, "2026-01-03T00:00:00Z")
	cells := v.Cells(u.Object, "w", now)
	if len(cells) != 4 || cells[0] != "w" || cells[1] != int64(2) || cells[2] != "red" || cells[3] != "2d" {
		t.Fatalf("cells: %#v", cells)
	}
	if cols := v.Columns(); len(cols) != 4 || cols[0].Name != "Name" || cols[3].Type != "date" {
		t.Fatalf("columns: %+v", cols)
	}

	bad := widget(map[string]any{"replicas": int64(9), "colour": "green"})
	msgs := v.Validate(context.Background(), bad, nil).ToAggregate().Error()
	for _, want := range []string{
		"spec.replicas: Invalid value: 9: spec.replicas in body should be less than or equal to 5",
		`spec.colour: Unsupported value: "green": supported values: "red", "blue"`,
	} {
		if !strings.Contains(msgs, want) {
			t.Fatalf("errors lack %q: %s", want, msgs)
		}
	}
	if errs := v.Validate(context.Background(), widget(map[string]any{"replicas": "two"}), nil).ToAggregate().Error(); !strings.Contains(errs,
		`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`) {
		t.Fatalf("wrong type: %s", errs)
	}
}

// A CRD without columns prints NAME and AGE; one with two storage versions is refused.
func TestDefaultColumnsAndInvalidCRD(t *testing.T) {
	cols, err := compileColumns(nil)
	if err != nil || len(cols) != 1 || cols[0].def.Name != "Age" {
		t.Fatalf("default columns: %v %+v", err, cols)
	}
	var c apiextv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict([]byte(widgetCRD), &c); err != nil {
		t.Fatal(err)
	}
	second := c.Spec.Versions[0]
	second.Name = "v2"
	c.Spec.Versions = append(c.Spec.Versions, second)
	Default(&c)
	if errs := Validate(context.Background(), &c).ToAggregate(); errs == nil || !strings.Contains(errs.Error(), "must have exactly one version marked as storage version") {
		t.Fatalf("two storage versions: %v", errs)
	}
}
