package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// bodyToJSON turns a request body in any accepted media type into JSON, reporting
// syntax errors with their position so a learner can find the typo.
func bodyToJSON(body []byte, contentType string) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if isJSONType(mt) {
		if err := checkJSON(body); err != nil {
			return nil, err
		}
		return body, nil
	}
	switch mt {
	case mediaTypeProtobuf:
		return protobufToJSON(body)
	case "application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml":
		out, err := yaml.YAMLToJSONStrict(body)
		if err != nil {
			return nil, badRequest("error decoding YAML: " + strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
		}
		return out, nil
	}
	return nil, unsupportedMediaType(mt)
}

// isJSONType: a body of media type mt is JSON as it is.
func isJSONType(mt string) bool {
	switch mt {
	case "", "application/json", "application/merge-patch+json", "application/json-patch+json",
		"application/strategic-merge-patch+json", "*/*":
		return true
	}
	return false
}

func unsupportedMediaType(mt string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", mt),
	}}
}

// checkJSON reports malformed JSON with line, column and offset.
func checkJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the request body is empty")
	}
	// json.Valid runs the same scanner as Unmarshal without building a tree of maps:
	// a tenth of the time on a small Pod. Only a bad body pays for the decode that
	// finds the position of the error.
	if json.Valid(body) {
		return nil
	}
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(body, se.Offset)
		return badRequest(fmt.Sprintf("error decoding JSON: %v at line %d, column %d (offset %d)", se, line, col, se.Offset))
	}
	return badRequest("error decoding JSON: " + err.Error())
}

func lineCol(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// decodeObject strictly decodes JSON into a new object of r and checks its apiVersion
// and kind against the URL. Unknown fields are refused by name, with a suggestion when
// the name is a near miss ("apiVerison" → "apiVersion").
func decodeObject(r *resource, data []byte, opts decodeOpts) (runtime.Object, error) {
	if r.custom != nil {
		return decodeCustom(r, data, opts)
	}
	// A wrong kind is reported as such, not as the unknown fields it brings along.
	// Under Strict a wrong kind cannot decode cleanly unless its fields fit, and then
	// checkTypeMeta below names it, so the kind is looked at on its own only after a
	// failed decode: a good body is scanned once, not twice. Ignore and Warn would
	// drop (and warn about) the foreign fields first, so they look before decoding.
	if opts.ignoreUnknown {
		if err := checkKindFirst(r, data); err != nil {
			return nil, err
		}
	}
	obj := r.newObj()
	if err := decodeStrict(r.gvk(), data, obj, opts); err != nil {
		if kerr := checkKindFirst(r, data); kerr != nil {
			return nil, kerr
		}
		return nil, err
	}
	if err := checkTypeMeta(r.gvk(), obj); err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(r.gvk())
	return obj, nil
}

// checkKindFirst refuses data whose apiVersion and kind, when both are given, are not
// r's.
func checkKindFirst(r *resource, data []byte) error {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err == nil && tm.APIVersion != "" && tm.Kind != "" {
		return checkTypeMeta(r.gvk(), &metav1.PartialObjectMetadata{TypeMeta: tm})
	}
	return nil
}

// decodeOpts carries a request's fieldValidation directive. Strict (what kubectl sends,
// and webkube's default so that learners see their typos) rejects unknown and duplicate
// fields; Ignore drops them (kubectl --validate=false); Warn drops them with a Warning
// header.
type decodeOpts struct {
	ignoreUnknown bool
	warn          func(msg string)
}

var strictDecoding = decodeOpts{}

func fieldValidation(w http.ResponseWriter, r *http.Request) (decodeOpts, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", "Strict":
		return strictDecoding, nil
	case "Ignore":
		return decodeOpts{ignoreUnknown: true}, nil
	case "Warn":
		return decodeOpts{ignoreUnknown: true, warn: func(msg string) {
			w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
		}}, nil
	default:
		return decodeOpts{}, badRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn or Strict, not %q", v))
	}
}

func decodeStrict(gvk schema.GroupVersionKind, data []byte, obj any, opts decodeOpts) error {
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err == nil && len(strictErrs) == 0 {
		return nil // the common case: no message to format (a tenth of a decode)
	}
	prefix := fmt.Sprintf("%s in version %q cannot be handled as a %s: ", gvk.Kind, gvk.Version, gvk.Kind)
	if err != nil {
		return badRequest(prefix + err.Error())
	}
	msgs := make([]string, 0, len(strictErrs))
	for _, e := range strictErrs {
		msgs = append(msgs, withSuggestion(reflect.TypeOf(obj), e.Error()))
	}
	if opts.ignoreUnknown {
		// The decoder filled in everything it knew; the rest is dropped.
		for _, m := range msgs {
			if opts.warn != nil {
				opts.warn(m)
			}
		}
		return nil
	}
	return badRequest(prefix + "strict decoding error: " + strings.Join(msgs, ", "))
}

func checkTypeMeta(want schema.GroupVersionKind, obj runtime.Object) error {
	got := obj.GetObjectKind().GroupVersionKind()
	if got.Version == "" && got.Group == "" {
		return badRequest(fmt.Sprintf("Object 'apiVersion' is missing: expected apiVersion: %s", want.GroupVersion()))
	}
	if got.Kind == "" {
		return badRequest(fmt.Sprintf("Object 'Kind' is missing: expected kind: %s", want.Kind))
	}
	if got == want {
		return nil
	}
	known := false
	for _, r := range resourceTable {
		if r.gvk() == got {
			known = true
		}
	}
	if !known {
		return badRequest(fmt.Sprintf("no kind %q is registered for version %q", got.Kind, got.GroupVersion()))
	}
	return badRequest(fmt.Sprintf("the object's apiVersion/kind (%s, %s) does not match the URL, which expects %s, %s",
		got.GroupVersion(), got.Kind, want.GroupVersion(), want.Kind))
}

// withSuggestion appends `, did you mean "x"?` to an `unknown field "a.b[0].c"` message
// when the type at that path has a field with a close name.
func withSuggestion(t reflect.Type, msg string) string {
	const p = `unknown field "`
	if !strings.HasPrefix(msg, p) || !strings.HasSuffix(msg, `"`) {
		return msg
	}
	path := strings.Split(msg[len(p):len(msg)-1], ".")
	for _, seg := range path[:len(path)-1] {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		ft, ok := jsonField(t, seg)
		if !ok {
			return msg
		}
		t = ft
	}
	last := path[len(path)-1]
	best, bestD := "", 3
	for _, name := range jsonFieldNames(deref(t)) {
		d := editDistance(strings.ToLower(last), strings.ToLower(name))
		if strings.EqualFold(last, name) {
			d = 0
		}
		if d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return msg
	}
	return fmt.Sprintf("%s, did you mean %q?", msg, best)
}

// deref strips pointers, slices and maps down to the element type.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t
}

func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, inline := jsonTag(f)
		if inline {
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

func jsonFieldNames(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, inline := jsonTag(f)
		if inline {
			names = append(names, jsonFieldNames(deref(f.Type))...)
		} else if tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return names
}

func jsonTag(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
		return "", true
	}
	if !f.IsExported() {
		return "-", false
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

// editDistance is the optimal-string-alignment distance, so a swapped pair of letters
// ("Verison") counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// requestJSON reads a create, update or binding request: its field validation choice and
// its body, size-limited and turned into JSON.
func requestJSON(w http.ResponseWriter, r *http.Request) ([]byte, decodeOpts, error) {
	opts, err := fieldValidation(w, r)
	if err != nil {
		return nil, opts, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, opts, err
	}
	data, err := bodyToJSON(body, r.Header.Get("Content-Type"))
	return data, opts, err
}

// requestObject reads a create request as requestJSON does and decodes its object of
// res. A JSON body is not checked before it is decoded, as requestJSON checks it: the
// decoder scans it anyway (for a small pod, the check was a tenth of decoding), and a
// body it refuses is checked then, so that a syntax error has the same message.
func requestObject(w http.ResponseWriter, r *http.Request, res *resource) (runtime.Object, error) {
	opts, err := fieldValidation(w, r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); !isJSONType(mt) {
		if body, err = bodyToJSON(body, ct); err != nil {
			return nil, err
		}
		return decodeObject(res, body, opts)
	}
	obj, err := decodeObject(res, body, opts)
	if err != nil {
		if jerr := checkJSON(body); jerr != nil {
			return nil, jerr
		}
		return nil, err
	}
	return obj, nil
}
