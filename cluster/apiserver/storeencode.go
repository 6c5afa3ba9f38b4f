package apiserver

import (
	"bytes"
	"encoding/json"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// encodeSplicingFields is json.Marshal(obj) for a typed object, with the FieldsV1 of
// its managedFields copied in rather than encoded. encoding/json re-scans the bytes
// every json.Marshaler returns (to compact and HTML-escape them), and the FieldsV1 are
// most of what a Marshaler returns in a stored object: a quarter of encoding a new
// pod. Each FieldsV1 is swapped for a one-byte placeholder while obj is encoded and
// then written over it. Only a FieldsV1 that json.Marshal would leave as it is, a
// JSON object with no byte it would drop or escape, is spliced; ok is false when one
// is not (obj is then left for json.Marshal) or when obj has no FieldsV1 to splice.
//
// A FieldsV1 here is valid JSON: the field manager wrote it, or a JSON decoder read
// it from a request or the store (where json.Marshal would have refused an invalid
// one).
func encodeSplicingFields(obj runtime.Object, m metav1.Object) (data []byte, ok bool, err error) {
	entries := m.GetManagedFields()
	extra := 0
	for _, e := range entries {
		if e.FieldsV1 == nil {
			continue
		}
		if !plainJSONObject(e.FieldsV1.Raw) {
			return nil, false, nil
		}
		extra += len(e.FieldsV1.Raw) - len(fieldsPlaceholder.Raw)
	}
	if extra == 0 {
		return nil, false, nil
	}
	// A copy of the entries holds the placeholders: the entries' own array may be
	// shared with another object that is being read.
	swapped := make([]metav1.ManagedFieldsEntry, len(entries))
	for i, e := range entries {
		if e.FieldsV1 != nil {
			e.FieldsV1 = fieldsPlaceholder
		}
		swapped[i] = e
	}
	m.SetManagedFields(swapped)
	buf := encodeBufs.Get().(*bytes.Buffer)
	defer encodeBufs.Put(buf)
	buf.Reset()
	err = json.NewEncoder(buf).Encode(obj) // as json.Marshal, plus a newline
	m.SetManagedFields(entries)
	if err != nil {
		return nil, true, err
	}
	enc := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// metadata comes first after apiVersion and kind, and nothing in it before
	// managedFields (strings, maps of strings) can hold this text outside a string;
	// within managedFields the placeholders are the only numbers.
	at := bytes.Index(enc, []byte(`"managedFields":[`))
	if at < 0 {
		return nil, false, nil
	}
	out := make([]byte, 0, len(enc)+extra)
	from := 0 // enc before from is in out
	for _, e := range entries {
		if e.FieldsV1 == nil {
			continue
		}
		i := bytes.Index(enc[at:], fieldsPlaceholderJSON)
		if i < 0 {
			return nil, false, nil
		}
		i += at + len(fieldsPlaceholderJSON) - len(fieldsPlaceholder.Raw) // the placeholder
		out = append(out, enc[from:i]...)
		out = append(out, e.FieldsV1.Raw...)
		from = i + len(fieldsPlaceholder.Raw)
		at = from
	}
	return append(out, enc[from:]...), true, nil
}

var (
	fieldsPlaceholder     = &metav1.FieldsV1{Raw: []byte("0")}
	fieldsPlaceholderJSON = []byte(`"fieldsV1":0`)
	// encodeBufs hold encodings that are copied out with their FieldsV1.
	encodeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// plainJSONObject: raw starts as a JSON object and has no byte that json.Marshal
// would drop (whitespace) or escape (<, >, &, and the first byte of U+2028 and
// U+2029) when a Marshaler returns it. Such a byte inside a string is harmless, but
// rare enough to leave to json.Marshal.
func plainJSONObject(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '{' {
		return false
	}
	for _, c := range raw {
		if notPlain[c] {
			return false
		}
	}
	return true
}

var notPlain = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '<': true, '>': true, '&': true, 0xE2: true}
