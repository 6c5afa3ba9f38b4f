package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"webkube/cluster/eventconv"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// events.k8s.io/v1 Events are the stored core/v1 Events seen in another shape, as in
// kube-apiserver, which stores one resource "events" and serves it in both groups. A
// request for them is turned into the core request (bodies and field selectors
// converted) and its answer converted back (objects, lists, tables and watch events),
// so storage, watch, selectors, admission and tables are the core resource's own.

var eventsV1 = eventsv1.SchemeGroupVersion

var eventsV1Resource = &resource{
	gvr: eventsV1.WithResource("events"), kind: "Event", singular: "event", namespaced: true,
	shortNames: []string{"ev"}, viewOf: coreGR("events"),
	newObj: func() runtime.Object { return &eventsv1.Event{} }, newList: func() runtime.Object { return &eventsv1.EventList{} },
	fields: func(o runtime.Object) fields.Set {
		e := o.(*eventsv1.Event)
		return fields.Set{
			"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace,
			"regarding.name": e.Regarding.Name, "regarding.uid": string(e.Regarding.UID),
			"regarding.apiVersion": e.Regarding.APIVersion, "regarding.resourceVersion": e.Regarding.ResourceVersion,
			"regarding.fieldPath": e.Regarding.FieldPath, "reason": e.Reason, "type": e.Type,
			"reportingController": e.ReportingController, "deprecatedSource": e.DeprecatedSource.Component,
		}
	},
}

// serveEventsV1 serves an events.k8s.io/v1 request through the core Events resource.
func (s *Server) serveEventsV1(w http.ResponseWriter, r *http.Request, t target) error {
	core := t
	core.res = resourceFor(t.res.viewOf)
	r2 := r.Clone(r.Context())
	if err := toCoreQuery(t.res, r2); err != nil {
		return err
	}
	r2.Header.Set("Accept", withoutProtobuf(r.Header.Get("Accept")))
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		if err := toCoreBody(w, r2, t.res); err != nil {
			return err
		}
	case http.MethodPatch:
		return s.patchEventsV1(w, r2, t, core)
	}
	q := r.URL.Query()
	if t.legacyWatch || q.Get("watch") == "true" || q.Get("watch") == "1" {
		lw := &lineConverter{ResponseWriter: w}
		return s.dispatch(lw, r2, core)
	}
	bw := &bufferedWriter{header: http.Header{}}
	if err := s.dispatch(bw, r2, core); err != nil {
		return err
	}
	return bw.flushConverted(w)
}

// toCoreQuery rewrites the field selector to the core Event's labels.
func toCoreQuery(res *resource, r *http.Request) error {
	q := r.URL.Query()
	fs := q.Get("fieldSelector")
	if fs == "" {
		return nil
	}
	sel, err := fields.ParseSelector(fs)
	if err != nil {
		return badRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	sel, err = sel.Transform(func(label, value string) (string, string, error) {
		l, ok := eventconv.CoreFieldLabel(label)
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

// toCoreBody replaces an events.k8s.io/v1 Event body by its core/v1 form.
func toCoreBody(w http.ResponseWriter, r *http.Request, res *resource) error {
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	obj, err := decodeObject(res, data, opts)
	if err != nil {
		return err
	}
	setJSONBody(r, eventconv.ToCore(obj.(*eventsv1.Event)))
	return nil
}

func setJSONBody(r *http.Request, v any) {
	raw, _ := json.Marshal(v)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.Header.Set("Content-Type", "application/json")
}

// patchEventsV1 applies a patch to the events.k8s.io/v1 view of the stored Event and
// writes the result back as an update conditional on the version patched.
func (s *Server) patchEventsV1(w http.ResponseWriter, r *http.Request, t, core target) error {
	pt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if pt == applyPatchType {
		return unsupportedMediaType(pt + " (server-side apply of events.k8s.io/v1 Events)")
	}
	patch, err := readBody(r)
	if err != nil {
		return err
	}
	cur, _, err := s.getObject(r.Context(), core.res, t.namespace, t.name)
	if err != nil {
		return err
	}
	curJSON, err := json.Marshal(eventconv.FromCore(cur.(*corev1.Event)))
	if err != nil {
		return err
	}
	next, err := applyPatch(pt, curJSON, patch, &eventsv1.Event{})
	if err != nil {
		return err
	}
	obj, err := decodeObject(t.res, next, decodeOpts{})
	if err != nil {
		return err
	}
	ev := eventconv.ToCore(obj.(*eventsv1.Event))
	if ev.ResourceVersion == "" {
		ev.ResourceVersion = mustMeta(cur).GetResourceVersion()
	}
	r.Method = http.MethodPut
	setJSONBody(r, ev)
	bw := &bufferedWriter{header: http.Header{}}
	if err := s.dispatch(bw, r, core); err != nil {
		return err
	}
	return bw.flushConverted(w)
}

// bufferedWriter holds a core answer until it is converted.
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

func (b *bufferedWriter) flushConverted(w http.ResponseWriter) error {
	out := b.body.Bytes()
	if strings.HasPrefix(b.header.Get("Content-Type"), "application/json") {
		conv, err := convertJSON(out)
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
			if obj, err := convertJSON(ev.Object); err == nil {
				ev.Object = obj
				out, _ = json.Marshal(ev)
			}
		}
		if _, err := l.ResponseWriter.Write(append(out, '\n')); err != nil {
			return 0, err
		}
		l.pending = l.pending[i+1:]
	}
}

// convertJSON converts a core answer: an Event, an EventList, a Table whose rows hold
// Events, or a watch event's object; anything else (a Status) is left as it is.
func convertJSON(raw []byte) ([]byte, error) {
	var head metav1.TypeMeta
	if err := json.Unmarshal(raw, &head); err != nil {
		return raw, nil
	}
	switch {
	case head.Kind == "Event" && head.APIVersion == "v1":
		var e corev1.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		return json.Marshal(eventconv.FromCore(&e))
	case head.Kind == "EventList" && head.APIVersion == "v1":
		var l corev1.EventList
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		out := eventsv1.EventList{ListMeta: l.ListMeta, Items: make([]eventsv1.Event, 0, len(l.Items))}
		out.APIVersion, out.Kind = eventsV1.String(), "EventList"
		for i := range l.Items {
			e := eventconv.FromCore(&l.Items[i])
			e.TypeMeta = metav1.TypeMeta{}
			out.Items = append(out.Items, *e)
		}
		return json.Marshal(out)
	case head.Kind == "Table":
		return convertTable(raw)
	}
	return raw, nil
}

func convertTable(raw []byte) ([]byte, error) {
	var t metav1.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	for i := range t.Rows {
		if t.Rows[i].Object.Raw == nil {
			continue
		}
		o, err := convertJSON(t.Rows[i].Object.Raw)
		if err != nil {
			return nil, err
		}
		t.Rows[i].Object.Raw = o
	}
	return json.Marshal(t)
}
