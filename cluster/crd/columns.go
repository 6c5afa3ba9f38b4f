package crd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/jsonpath"
)

// column is one additionalPrinterColumn with its parsed JSONPath.
type column struct {
	def  metav1.TableColumnDefinition
	path *jsonpath.JSONPath
}

// defaultColumns are what a CRD without additionalPrinterColumns is printed with, as
// kube-apiserver's: NAME and AGE.
var defaultColumns = []apiextv1.CustomResourceColumnDefinition{
	{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
}

func compileColumns(defs []apiextv1.CustomResourceColumnDefinition) ([]column, error) {
	if len(defs) == 0 {
		defs = defaultColumns
	}
	cols := make([]column, 0, len(defs))
	for _, d := range defs {
		p := jsonpath.New(d.Name)
		if err := p.Parse(fmt.Sprintf("{%s}", d.JSONPath)); err != nil {
			return nil, fmt.Errorf("unrecognized column definition %q", d.JSONPath)
		}
		p.AllowMissingKeys(true)
		desc := d.Description
		if desc == "" {
			desc = "Custom resource definition column (in JSONPath format): " + d.JSONPath
		}
		cols = append(cols, column{path: p, def: metav1.TableColumnDefinition{
			Name: d.Name, Type: d.Type, Format: d.Format, Description: desc, Priority: d.Priority,
		}})
	}
	return cols, nil
}

// Columns are the Table's column definitions: NAME, then the printer columns.
func (v *Version) Columns() []metav1.TableColumnDefinition {
	out := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}}
	for _, c := range v.columns {
		out = append(out, c.def)
	}
	return out
}

// Cells are one object's row, as kube's CRD table convertor makes it: a column whose
// path finds nothing is empty (nil, printed "<none>").
func (v *Version) Cells(obj map[string]any, name string, now time.Time) []any {
	cells := []any{name}
	var buf bytes.Buffer
	for _, c := range v.columns {
		res, err := c.path.FindResults(obj)
		if err != nil || len(res) == 0 || len(res[0]) == 0 {
			cells = append(cells, nil)
			continue
		}
		val := res[0][0].Interface()
		if c.def.Type == "string" {
			buf.Reset()
			if err := c.path.PrintResults(&buf, []reflect.Value{reflect.ValueOf(val)}); err != nil {
				cells = append(cells, nil)
				continue
			}
			cells = append(cells, buf.String())
			continue
		}
		cells = append(cells, cell(c.def.Type, val, now))
	}
	return cells
}

func cell(typ string, val any, now time.Time) any {
	switch typ {
	case "integer":
		switch n := val.(type) {
		case int64:
			return n
		case float64:
			return int64(n)
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i
			}
		}
	case "number":
		switch n := val.(type) {
		case int64:
			return float64(n)
		case float64:
			return n
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f
			}
		}
	case "boolean":
		if b, ok := val.(bool); ok {
			return b
		}
	case "date":
		if s, ok := val.(string); ok {
			var t metav1.Time
			if err := t.UnmarshalQueryParameter(s); err != nil {
				return "<invalid>"
			}
			if t.IsZero() {
				return "<unknown>"
			}
			return duration.HumanDuration(now.Sub(t.Time))
		}
	}
	return nil
}
