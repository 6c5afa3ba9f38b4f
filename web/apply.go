package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"webkube/web/steps"
	"webkube/web/yamlpos"
)

// FieldError is one problem, placed at the line of the YAML it belongs to.
type FieldError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// DocResult is what happened to one document.
type DocResult struct {
	Doc       int          `json:"doc"`
	Line      int          `json:"line"`
	Kind      string       `json:"kind,omitempty"`
	Namespace string       `json:"namespace,omitempty"`
	Name      string       `json:"name,omitempty"`
	Action    string       `json:"action,omitempty"` // created, configured, unchanged (+ " (dry run)")
	Errors    []FieldError `json:"errors,omitempty"`
	Diff      string       `json:"diff,omitempty"`
}

type applyReq struct {
	YAML string `json:"yaml"`
	Mode string `json:"mode"` // apply, dryrun, diff
}

func (d *Dashboard) apply(c echo.Context) error {
	var req applyReq
	if err := c.Bind(&req); err != nil {
		return bad(c, "want {yaml, mode}")
	}
	if len(req.YAML) > 1<<20 {
		return bad(c, "that is more YAML than a learner should paste (1 MiB max)")
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	res, applied := d.applyYAML(ctx, []byte(req.YAML), req.Mode)
	return c.JSON(http.StatusOK, map[string]any{"results": res, "applied": applied})
}

// applyYAML checks every document locally first (syntax, misspelt top-level fields,
// apiVersion/kind known) and sends nothing if any fails, so a typo in the third document
// does not leave the first two half-applied. Then each document is applied with
// server-side apply (create or update), or dry-run, or diffed against the live object.
func (d *Dashboard) applyYAML(ctx context.Context, src []byte, mode string) ([]DocResult, bool) {
	docs, err := yamlpos.Split(src)
	var se *yamlpos.SyntaxError
	if errors.As(err, &se) {
		return []DocResult{{Doc: len(docs), Line: se.Line, Errors: []FieldError{{Line: se.Line, Message: "YAML syntax: " + se.Message}}}}, false
	}
	if len(docs) == 0 {
		return []DocResult{{Line: 1, Errors: []FieldError{{Line: 1, Message: "nothing to apply: paste a Kubernetes object"}}}}, false
	}
	var ready []prepared
	results := make([]DocResult, len(docs))
	failed := false
	for i, doc := range docs {
		p, ok := d.prepare(doc, i, &results[i])
		failed = failed || !ok
		ready = append(ready, p)
	}
	if failed {
		// Nothing is sent when any document is wrong: a half-applied set is worse than none.
		for i := range results {
			if len(results[i].Errors) == 0 {
				results[i].Action = "not sent: another document has errors"
			}
		}
		return results, false
	}
	applied := true
	for i, p := range ready {
		applied = d.applyDoc(ctx, p, mode, &results[i]) && applied
	}
	return results, applied
}

// prepared is a document checked and ready to send.
type prepared struct {
	doc yamlpos.Doc
	obj *unstructured.Unstructured
	gvr schema.GroupVersionResource
	ns  bool
}

// prepare checks one document before anything is sent: typos in its top-level fields, the
// fields every object needs, and a kind the API server serves. Its errors name the line.
func (d *Dashboard) prepare(doc yamlpos.Doc, i int, r *DocResult) (prepared, bool) {
	r.Doc, r.Line = i, doc.StartLine
	for _, t := range yamlpos.TopLevelTypos(doc.Root) {
		m := fmt.Sprintf("unknown field %q", t.Field)
		if t.Suggest != "" {
			m += fmt.Sprintf(" (did you mean %q?)", t.Suggest)
		}
		r.Errors = append(r.Errors, FieldError{Line: t.Line, Field: t.Field, Message: m})
	}
	obj := &unstructured.Unstructured{Object: doc.Object}
	r.Kind, r.Namespace, r.Name = obj.GetKind(), obj.GetNamespace(), obj.GetName()
	if obj.GetAPIVersion() == "" {
		r.Errors = append(r.Errors, FieldError{Line: doc.StartLine, Field: "apiVersion", Message: "apiVersion not set"})
	}
	if obj.GetKind() == "" {
		r.Errors = append(r.Errors, FieldError{Line: doc.StartLine, Field: "kind", Message: "kind not set"})
	}
	if obj.GetName() == "" {
		l, _ := yamlpos.Line(doc.Root, "metadata.name")
		r.Errors = append(r.Errors, FieldError{Line: l, Field: "metadata.name", Message: "metadata.name not set (generateName is not supported by apply)"})
	}
	if len(r.Errors) > 0 {
		return prepared{}, false
	}
	gvk := obj.GroupVersionKind()
	m, err := d.mapping(gvk)
	if err != nil {
		l, _ := yamlpos.Line(doc.Root, "kind")
		r.Errors = append(r.Errors, FieldError{Line: l, Field: "kind", Message: fmt.Sprintf("this API server has no %s in %s", gvk.Kind, gvk.GroupVersion())})
		return prepared{}, false
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	if namespaced && obj.GetNamespace() == "" {
		obj.SetNamespace("default")
		r.Namespace = "default"
	}
	return prepared{doc: doc, obj: obj, gvr: m.Resource, ns: namespaced}, true
}

// applyDoc sends one document as a server-side apply (dry run for "dryrun" and "diff") and
// says what changed; it reports whether the object was really applied.
func (d *Dashboard) applyDoc(ctx context.Context, p prepared, mode string, r *DocResult) bool {
	res := d.dyn.Resource(p.gvr)
	var ri interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = res
	if p.ns {
		ri = res.Namespace(p.obj.GetNamespace())
	}
	live, err := ri.Get(ctx, p.obj.GetName(), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		r.Errors = d.placeErrors(p.doc, err)
		return false
	}
	exists := err == nil
	body, _ := json.Marshal(p.obj.Object)
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true), FieldValidation: "Strict"}
	if mode == "dryrun" || mode == "diff" {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := ri.Patch(ctx, p.obj.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		r.Errors = d.placeErrors(p.doc, err)
		return false
	}
	r.Action, r.Diff = outcome(live, out, exists, opts.DryRun != nil, mode == "diff")
	return opts.DryRun == nil
}

// outcome names what an apply did, or would do in a dry run. A dry run does not bump the
// resourceVersion, so there the objects themselves are compared: a diff that shows
// changes must not be labelled "unchanged".
func outcome(live, out *unstructured.Unstructured, exists, dryRun, diff bool) (action, delta string) {
	before, after := "", cleanYAML(out)
	if exists {
		before = cleanYAML(live)
	}
	switch {
	case !exists && dryRun:
		action = "would be created"
	case !exists:
		action = "created"
	case dryRun && before != after:
		action = "would be configured"
	case dryRun, out.GetResourceVersion() == live.GetResourceVersion():
		action = "unchanged"
	default:
		action = "configured"
	}
	if diff {
		delta = steps.LineDiff(before, after)
	}
	if dryRun {
		action += " (dry run)"
	}
	return action, delta
}

func (d *Dashboard) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		// Discovery is cached; a resource the server gained since needs a fresh look.
		d.mapper.Reset()
		m, err = d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// placeErrors turns an API error into field errors at their lines: 422 Status causes
// carry field paths; strict decoding (400) names unknown fields in its message.
func (d *Dashboard) placeErrors(doc yamlpos.Doc, err error) []FieldError {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		d.log.Warn("apply", "err", err)
		return []FieldError{{Line: doc.StartLine, Message: "the API server did not answer: " + err.Error()}}
	}
	s := st.Status()
	var out []FieldError
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			if c.Field == "" {
				continue
			}
			field := strings.TrimPrefix(c.Field, ".")
			l, _ := yamlpos.Line(doc.Root, field)
			msg := c.Message
			if msg == "" {
				msg = string(c.Type)
			}
			if !strings.Contains(msg, field) {
				msg = field + ": " + msg
			}
			out = append(out, FieldError{Line: l, Field: field, Message: msg})
		}
	}
	if len(out) == 0 {
		for _, f := range yamlpos.UnknownFields(s.Message) {
			l, _ := yamlpos.Line(doc.Root, f)
			out = append(out, FieldError{Line: l, Field: f, Message: fmt.Sprintf("unknown field %q", f)})
		}
	}
	if len(out) == 0 {
		out = append(out, FieldError{Line: doc.StartLine, Message: s.Message})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// cleanYAML drops what changes on every write or only the server cares about, so a diff
// shows what the learner's YAML changes.
func cleanYAML(u *unstructured.Unstructured) string {
	c := u.DeepCopy()
	c.SetManagedFields(nil)
	c.SetResourceVersion("")
	c.SetGeneration(0)
	b, err := yaml.Marshal(c.Object)
	if err != nil {
		return ""
	}
	return string(b)
}
