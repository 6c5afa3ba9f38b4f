package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"webkube/cluster/printers"
	"webkube/cluster/watchcache"
)

// outputMode is the representation a client's Accept header asks for.
type outputMode int

const (
	modeObject  outputMode = iota
	modeTable              // meta.k8s.io/v1 Table (kubectl get)
	modePartial            // PartialObjectMetadata(List) (metadata-only informers)
)

type output struct {
	mode outputMode
	// include says what a Table row carries: "Metadata" (default), "Object" or "None".
	include string
}

func negotiate(r *http.Request) output {
	out := output{include: r.URL.Query().Get("includeObject")}
	if out.include == "" {
		out.include = string(metav1.IncludeMetadata)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		as := params["as"]
		switch {
		case as == "":
			return out
		case params["g"] != "meta.k8s.io":
			continue
		case as == "Table":
			out.mode = modeTable
			return out
		case as == "PartialObjectMetadata" || as == "PartialObjectMetadataList":
			out.mode = modePartial
			return out
		}
	}
	return out
}

func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, res *resource, obj runtime.Object) error {
	out := negotiate(r)
	switch out.mode {
	case modeTable:
		t, err := s.table(res, []runtime.Object{obj}, mustMeta(obj).GetResourceVersion(), out.include, true)
		if err != nil {
			return err
		}
		writeJSON(w, code, t)
	case modePartial:
		writeJSON(w, code, partial(obj))
	default:
		m := mustMeta(obj)
		rev, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
		if o := s.events.lookup(res.key(m.GetNamespace(), m.GetName()), rev); o != nil && o.Obj == obj {
			// Just written: encode it once for this answer, the watchers and the cache.
			raw, err := o.JSON()
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write(raw)
			return nil
		}
		writeJSON(w, code, obj)
	}
	return nil
}

func (s *Server) writeList(w http.ResponseWriter, r *http.Request, res *resource, objs []runtime.Object, rev int64) error {
	out := negotiate(r)
	rv := strconv.FormatInt(rev, 10)
	switch out.mode {
	case modeTable:
		t, err := s.table(res, objs, rv, out.include, true)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
	case modePartial:
		list := &metav1.PartialObjectMetadataList{
			TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
			ListMeta: metav1.ListMeta{ResourceVersion: rv},
			Items:    []metav1.PartialObjectMetadata{},
		}
		for _, o := range objs {
			list.Items = append(list.Items, *partial(o))
		}
		writeJSON(w, http.StatusOK, list)
	default:
		list, err := newList(res, objs, rev)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list)
	}
	return nil
}

// writeCachedObject writes a read-only cached object, as JSON from its cached encoding.
func (s *Server) writeCachedObject(w http.ResponseWriter, r *http.Request, res *resource, o *watchcache.Object) error {
	if negotiate(r).mode != modeObject {
		return s.writeObject(w, r, http.StatusOK, res, o.Obj)
	}
	raw, err := o.JSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
	return nil
}

// writeListPage writes one page of a list. A plain JSON list is assembled from each
// object's cached encoding, so unchanged objects are not encoded again.
func (s *Server) writeListPage(w http.ResponseWriter, r *http.Request, res *resource, p listPage) error {
	out := negotiate(r)
	meta := metav1.ListMeta{ResourceVersion: strconv.FormatInt(p.rev, 10), Continue: p.continued, RemainingItemCount: p.remaining}
	if out.mode != modeObject {
		objs := make([]runtime.Object, len(p.objs))
		for i, o := range p.objs {
			objs[i] = o.Obj
		}
		switch out.mode {
		case modeTable:
			t, err := s.table(res, objs, meta.ResourceVersion, out.include, true)
			if err != nil {
				return err
			}
			t.ListMeta = meta
			writeJSON(w, http.StatusOK, t)
		default:
			list := &metav1.PartialObjectMetadataList{
				TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
				ListMeta: meta, Items: make([]metav1.PartialObjectMetadata, 0, len(objs)),
			}
			for _, o := range objs {
				list.Items = append(list.Items, *partial(o))
			}
			writeJSON(w, http.StatusOK, list)
		}
		return nil
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, res.kind+"List", res.gvr.GroupVersion().String(), metaJSON)
	for i, o := range p.objs {
		raw, err := o.JSON()
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(raw)
	}
	buf.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func partial(obj runtime.Object) *metav1.PartialObjectMetadata {
	om, _ := fieldOf(obj, "ObjectMeta").(metav1.ObjectMeta)
	if u, ok := obj.(*unstructured.Unstructured); ok {
		om = unstructuredMeta(u)
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: om,
	}
}

// table renders objs as the Table `kubectl get` prints, with printers' columns.
func (s *Server) table(res *resource, objs []runtime.Object, rv, include string, withColumns bool) (*metav1.Table, error) {
	if res.custom != nil || res == crdResource {
		return s.customTable(res, objs, rv, include, withColumns)
	}
	now := s.clock.Now()
	cols := printers.Columns(res.gr())
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Rows:     []metav1.TableRow{},
	}
	if withColumns {
		t.ColumnDefinitions = cols
	}
	for _, obj := range objs {
		cells := printers.Cells(obj, now)
		if len(cells) != len(cols) {
			cells = fallbackCells(obj, cols, now)
		}
		row, err := tableRow(obj, cells, include)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// tableRow is one row of a Table with the object embedded as includeObject asks: whole
// (Object), not at all (None), or as its metadata only (Metadata, the default), which is
// what kubectl reads labels and names from.
func tableRow(obj runtime.Object, cells []any, include string) (metav1.TableRow, error) {
	row := metav1.TableRow{Cells: cells}
	var embed any
	switch include {
	case string(metav1.IncludeObject):
		embed = obj
	case string(metav1.IncludeNone):
	default:
		embed = partial(obj)
	}
	if embed != nil {
		raw, err := json.Marshal(embed)
		if err != nil {
			return row, err
		}
		row.Object = runtime.RawExtension{Raw: raw}
	}
	return row, nil
}

// fallbackCells fills name and age when the printers do not know a resource, so a row
// always matches its columns.
func fallbackCells(obj runtime.Object, cols []metav1.TableColumnDefinition, now time.Time) []any {
	m := mustMeta(obj)
	cells := make([]any, len(cols))
	for i, c := range cols {
		switch {
		case c.Format == "name" || c.Name == "Name":
			cells[i] = m.GetName()
		case c.Name == "Age":
			cells[i] = duration.HumanDuration(now.Sub(m.GetCreationTimestamp().Time))
		default:
			cells[i] = "<unknown>"
		}
	}
	return cells
}
