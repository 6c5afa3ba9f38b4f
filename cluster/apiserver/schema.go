package apiserver

import (
	"reflect"
	"strings"

	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// OpenAPI v3 schemas derived from the k8s.io/api Go types by reflection, so that
// `kubectl explain` works and `kubectl apply` finds the same patch merge keys it would
// find on a real cluster. Kubernetes generates its schemas from these same types: the
// json tags give the field names, the patchStrategy/patchMergeKey tags the strategic
// merge rules, and the generated SwaggerDoc methods the descriptions.

type schemaBuilder struct {
	schemas map[string]map[string]any
}

var (
	timeType        = reflect.TypeOf(metav1.Time{})
	microTimeType   = reflect.TypeOf(metav1.MicroTime{})
	quantityType    = reflect.TypeOf(apiresource.Quantity{})
	intOrStringType = reflect.TypeOf(intstr.IntOrString{})
	rawExtType      = reflect.TypeOf(runtime.RawExtension{})
	durationType    = reflect.TypeOf(metav1.Duration{})
)

// schemaName is Kubernetes' definition name for a Go type:
// k8s.io/api/core/v1.Pod → io.k8s.api.core.v1.Pod.
func schemaName(t reflect.Type) string {
	p := t.PkgPath()
	host, rest, _ := strings.Cut(p, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".") + "." + strings.ReplaceAll(rest, "/", ".") + "." + t.Name()
}

// ref returns the schema of t, adding named struct schemas to b.schemas.
func (b *schemaBuilder) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType, microTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case quantityType, durationType:
		return map[string]any{"type": "string"}
	case intOrStringType:
		return map[string]any{"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": true}
	case rawExtType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int32, reflect.Int, reflect.Int16, reflect.Int8, reflect.Uint16, reflect.Uint8:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int64, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": b.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": b.ref(t.Elem())}
	case reflect.Interface:
		return map[string]any{"type": "object"}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := b.schemas[name]; !ok {
			b.schemas[name] = map[string]any{} // placeholder against recursion (JSONSchemaProps)
			b.schemas[name] = b.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func swaggerDoc(t reflect.Type) map[string]string {
	m, ok := t.MethodByName("SwaggerDoc")
	if !ok || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 {
		return nil
	}
	out := m.Func.Call([]reflect.Value{reflect.New(t).Elem()})
	doc, _ := out[0].Interface().(map[string]string)
	return doc
}

func (b *schemaBuilder) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	docs := map[string]string{}
	b.fields(t, props, docs)
	for k, v := range swaggerDoc(t) {
		docs[k] = v
	}
	for name, p := range props {
		pm := p.(map[string]any)
		if d := docs[name]; d != "" {
			pm["description"] = d
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if d := docs[""]; d != "" {
		s["description"] = d
	}
	return s
}

func (b *schemaBuilder) fields(t reflect.Type, props map[string]any, docs map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, inline := jsonTag(f)
		if inline {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.fields(ft, props, docs)
				for k, v := range swaggerDoc(ft) {
					if k != "" {
						docs[k] = v // inlined TypeMeta documents apiVersion and kind
					}
				}
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		s := b.ref(f.Type)
		if _, isRef := s["$ref"]; isRef {
			s = map[string]any{"allOf": []any{s}} // so a description can sit next to it
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			s["x-kubernetes-patch-strategy"] = v
		}
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			s["x-kubernetes-patch-merge-key"] = v
		}
		props[name] = s
	}
}

// groupSchemas returns the components.schemas of one group version's document, each
// kind marked with x-kubernetes-group-version-kind as kubectl looks it up.
func groupSchemas(resources []*resource) map[string]map[string]any {
	b := &schemaBuilder{schemas: map[string]map[string]any{}}
	for _, r := range resources {
		t := reflect.TypeOf(r.newObj()).Elem()
		b.ref(t)
		gvk := r.gvk()
		b.schemas[schemaName(t)]["x-kubernetes-group-version-kind"] = []map[string]string{
			{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}}
	}
	return b.schemas
}
