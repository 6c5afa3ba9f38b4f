package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A view resource serves another resource's stored objects in its own shape, as
// kube-apiserver stores one resource and serves it in several groups or versions
// (events.k8s.io/v1 Events are core/v1 Events; autoscaling/v1 HorizontalPodAutoscalers
// are the stored autoscaling/v2 ones). A request for a view is turned into the stored
// resource's request (bodies and field selectors converted) and its answer converted
// back (objects, lists, tables and watch events), so storage, watch, selectors,
// admission and tables are the stored resource's own.
type view struct {
	of         schema.GroupVersionResource
	toStored   func(runtime.Object) (runtime.Object, error)
	fromStored func(runtime.Object) (runtime.Object, error)
	// fromStoredList converts a list's objects at once (nil: one by one with fromStored).
	fromStoredList func([]runtime.Object) ([]runtime.Object, error)
	// fieldLabel maps a field selector's label to the stored resource's; nil: the same.
	fieldLabel func(string) (string, bool)
	// storedRes is the stored resource when it is not a built-in one (a CRD's
	// storage version).
	storedRes *resource
}

func (v *view) stored() *resource {
	if v.storedRes != nil {
		return v.storedRes
	}
	return findResource(v.of.GroupVersion(), v.of.Resource)
}

// serveView serves a request for a view resource through the stored resource.
func (s *Server) serveView(w http.ResponseWriter, r *http.Request, t target) error {
	core := t
	core.res = t.res.view.stored()
	r2 := r.Clone(r.Context())
	if err := toStoredQuery(t.res, r2); err != nil {
		return err
	}
	r2.Header.Set("Accept", withoutProtobuf(r.Header.Get("Accept")))
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		if err := toStoredBody(w, r2, t.res); err != nil {
			return err
		}
	case http.MethodPatch:
		return s.patchView(w, r2, t, core)
	}
	q := r.URL.Query()
	if t.legacyWatch || queryBool(q, "watch") {
		lw := &lineConverter{ResponseWriter: w, res: t.res}
		return s.dispatch(lw, r2, core)
	}
	bw := &bufferedWriter{header: http.Header{}}
	if err := s.dispatch(bw, r2, core); err != nil {
		return err
	}
	return bw.flushConverted(w, t.res)
}

// toStoredQuery rewrites the field selector to the stored resource's labels.
func toStoredQuery(res *resource, r *http.Request) error {
	q := r.URL.Query()
	fs := q.Get("fieldSelector")
	if fs == "" || res.view.fieldLabel == nil {
		return nil
	}
	sel, err := fields.ParseSelector(fs)
	if err != nil {
		return badRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	sel, err = sel.Transform(func(label, value string) (string, string, error) {
		l, ok := res.view.fieldLabel(label)
		if !ok {
			return "", "", badRequest(fmt.Sprintf("field label not supported: %s", label))
		}
		return l, value, nil
	})
	if err != nil {
		return err
	}
	q.Set("fieldSelector", sel.String())
	r.URL.RawQuery = q.Encode()
	return nil
}

func withoutProtobuf(accept string) string {
	var keep []string
	for _, part := range strings.Split(accept, ",") {
		if !strings.Contains(part, "protobuf") {
			keep = append(keep, part)
		}
	}
	if len(keep) == 0 {
		return "application/json"
	}
	return strings.Join(keep, ",")
}

// toStoredBody replaces a view's body by its stored form.
func toStoredBody(w http.ResponseWriter, r *http.Request, res *resource) error {
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	obj, err := decodeObject(res, data, opts)
	if err != nil {
		return err
	}
	stored, err := res.view.toStored(obj)
	if err != nil {
		return asBadRequest(err)
	}
	setJSONBody(r, stored)
	return nil
}

// asBadRequest: a conversion's error is the client's (400) unless it says otherwise
// (a conversion webhook's failure is a 500).
func asBadRequest(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return err
	}
	return badRequest(err.Error())
}

func setJSONBody(r *http.Request, v any) {
	raw, _ := json.Marshal(v)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.Header.Set("Content-Type", "application/json")
}

// patchView applies a patch to the view of the stored object and writes the result
// back as an update conditional on the version patched.
func (s *Server) patchView(w http.ResponseWriter, r *http.Request, t, core target) error {
	pt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if pt == applyPatchType {
		return unsupportedMediaType(fmt.Sprintf("%s (server-side apply of %s %ss)", pt, t.res.gvr.GroupVersion(), t.res.kind))
	}
	patch, err := readBody(r)
	if err != nil {
		return err
	}
	cur, _, err := s.getObject(r.Context(), core.res, t.namespace, t.name)
	if err != nil {
		return err
	}
	curView, err := t.res.view.fromStored(cur)
	if err != nil {
		return err
	}
	curJSON, err := json.Marshal(curView)
	if err != nil {
		return err
	}
	next, err := applyPatch(pt, curJSON, patch, t.res.newObj())
	if err != nil {
		return err
	}
	obj, err := decodeObject(t.res, next, decodeOpts{})
	if err != nil {
		return err
	}
	stored, err := t.res.view.toStored(obj)
	if err != nil {
		return asBadRequest(err)
	}
	if m := mustMeta(stored); m.GetResourceVersion() == "" {
		m.SetResourceVersion(mustMeta(cur).GetResourceVersion())
	}
	r.Method = http.MethodPut
	setJSONBody(r, stored)
	bw := &bufferedWriter{header: http.Header{}}
	if err := s.dispatch(bw, r, core); err != nil {
		return err
	}
	return bw.flushConverted(w, t.res)
}

// bufferedWriter holds the stored resource's answer until it is converted.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) { b.code = code }

func (b *bufferedWriter) flushConverted(w http.ResponseWriter, res *resource) error {
	out := b.body.Bytes()
	if strings.HasPrefix(b.header.Get("Content-Type"), "application/json") {
		conv, err := res.convertJSON(out)
		if err != nil {
			return err
		}
		out = conv
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	if b.code == 0 {
		b.code = http.StatusOK
	}
	w.WriteHeader(b.code)
	_, err := w.Write(out)
	return err
}

// lineConverter converts a watch stream's events, one line each, as they are written.
type lineConverter struct {
	http.ResponseWriter
	res     *resource
	pending []byte
}

func (l *lineConverter) Unwrap() http.ResponseWriter { return l.ResponseWriter }
func (l *lineConverter) FlushError() error {
	return http.NewResponseController(l.ResponseWriter).Flush()
}

func (l *lineConverter) Write(p []byte) (int, error) {
	l.pending = append(l.pending, p...)
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.pending[:i]
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		out := line
		if json.Unmarshal(line, &ev) == nil && ev.Object != nil {
			// An event that cannot be converted ends the watch, as kube-apiserver's
			// (the client lists again, and is told why).
			obj, err := l.res.convertJSON(ev.Object)
			if err != nil {
				return 0, err
			}
			ev.Object = obj
			out, _ = json.Marshal(ev)
		}
		if _, err := l.ResponseWriter.Write(append(out, '\n')); err != nil {
			return 0, err
		}
		l.pending = l.pending[i+1:]
	}
}

// convertJSON converts the stored resource's answer into view r's shape: an object, a
// list, a Table whose rows hold objects, or a watch event's object; anything else (a
// Status) is left as it is.
func (r *resource) convertJSON(raw []byte) ([]byte, error) {
	var head metav1.TypeMeta
	if err := json.Unmarshal(raw, &head); err != nil {
		return raw, nil
	}
	st := r.view.stored()
	switch {
	case head.APIVersion == st.gvr.GroupVersion().String() && head.Kind == st.kind:
		obj := st.newObj()
		if err := json.Unmarshal(raw, obj); err != nil {
			return nil, err
		}
		out, err := r.view.fromStored(obj)
		if err != nil {
			return nil, err
		}
		out.GetObjectKind().SetGroupVersionKind(r.gvk())
		return json.Marshal(out)
	case head.APIVersion == st.gvr.GroupVersion().String() && head.Kind == st.kind+"List":
		return r.convertList(raw)
	case head.Kind == "Table":
		return r.convertTable(raw)
	}
	return raw, nil
}

func (r *resource) convertList(raw []byte) ([]byte, error) {
	in := r.view.stored().newList()
	if err := json.Unmarshal(raw, in); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(in)
	if err != nil {
		return nil, err
	}
	converted, err := r.view.fromStoredAll(items)
	if err != nil {
		return nil, err
	}
	for _, o := range converted {
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
	out := r.newList()
	if err := meta.SetList(out, converted); err != nil {
		return nil, err
	}
	inMeta, _ := meta.ListAccessor(in)
	outMeta, _ := meta.ListAccessor(out)
	outMeta.SetResourceVersion(inMeta.GetResourceVersion())
	outMeta.SetContinue(inMeta.GetContinue())
	outMeta.SetRemainingItemCount(inMeta.GetRemainingItemCount())
	out.GetObjectKind().SetGroupVersionKind(r.gvr.GroupVersion().WithKind(r.kind + "List"))
	return json.Marshal(out)
}

// fromStoredAll converts a list's objects, at once when the view can.
func (v *view) fromStoredAll(items []runtime.Object) ([]runtime.Object, error) {
	if v.fromStoredList != nil && len(items) > 0 {
		return v.fromStoredList(items)
	}
	out := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		o, err := v.fromStored(item)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (r *resource) convertTable(raw []byte) ([]byte, error) {
	var t metav1.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	for i := range t.Rows {
		if t.Rows[i].Object.Raw == nil {
			continue
		}
		o, err := r.convertJSON(t.Rows[i].Object.Raw)
		if err != nil {
			return nil, err
		}
		t.Rows[i].Object.Raw = o
	}
	return json.Marshal(t)
}
