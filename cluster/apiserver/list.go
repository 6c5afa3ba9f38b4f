package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// cacheIndexes are the fields the watch cache indexes, as kube-apiserver's: kubelets
// list their node's pods by spec.nodeName. Namespaces need none: keys are in namespace
// order, so a namespace is a range.
var cacheIndexes = map[schema.GroupResource][]string{
	{Resource: "pods"}: {"spec.nodeName"},
}

// cacheWait is how long a read waits for the watch cache to reach the revision it
// needs (kube-apiserver waits 3 s too); past it a consistent list reads the store.
const cacheWait = 3 * time.Second

func (s *Server) newWatchCache() (*watchcache.Cache, error) {
	var res []watchcache.Resource
	for _, r := range resourceTable {
		if !r.stored() {
			continue
		}
		res = append(res, watchcache.Resource{Prefix: r.keyPrefix(), Indexes: cacheIndexes[r.gr()],
			Decode: func(kv store.KeyValue) (*watchcache.Object, error) { return s.events.entry(r, kv) }})
	}
	res = append(res, s.customCacheResource())
	return watchcache.New(watchcache.Config{Store: s.store, Resources: res, Clock: s.clock, Logger: s.log})
}

// listPage is one page of a list: its objects (read-only), the revision it is
// consistent at, and what the client needs to ask for the next.
type listPage struct {
	objs      []*watchcache.Object
	rev       int64
	continued string // the continue token, "" on the last page
	remaining *int64
}

// listRequest is a list's parsed query.
type listRequest struct {
	res   *resource
	ns    string
	sel   selectors
	limit int64
	rv    string
	match metav1.ResourceVersionMatch
	token *continueToken
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, t target) error {
	lr, err := parseListRequest(t, r.URL.Query())
	if err != nil {
		return err
	}
	p, err := s.listPage(r.Context(), lr)
	if err != nil {
		return err
	}
	return s.writeListPage(w, r, t.res, p)
}

func parseListRequest(t target, q url.Values) (listRequest, error) {
	sel, err := parseSelectors(t.res, q, "")
	if err != nil {
		return listRequest{}, err
	}
	lr := listRequest{res: t.res, ns: t.namespace, sel: sel, rv: q.Get("resourceVersion"),
		match: metav1.ResourceVersionMatch(q.Get("resourceVersionMatch"))}
	if v := q.Get("limit"); v != "" {
		if lr.limit, err = strconv.ParseInt(v, 10, 64); err != nil {
			return listRequest{}, badRequest(fmt.Sprintf("invalid limit %q", v))
		}
		lr.limit = max(lr.limit, 0)
	}
	if c := q.Get("continue"); c != "" {
		if lr.rv != "" || lr.match != "" {
			return listRequest{}, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "",
				field.ErrorList{field.Forbidden(field.NewPath("resourceVersion"), "specifying resource version is not allowed when using continue")})
		}
		tok, err := decodeContinue(c)
		if err != nil {
			return listRequest{}, badRequest("invalid continue token: " + err.Error())
		}
		lr.token = &tok
	}
	return lr, nil
}

// listPage serves a list from the watch cache, as kube-apiserver's cacher does:
// resourceVersion=0 at once, "not older than" and consistent (no resourceVersion) once
// the cache has reached that revision or the store's current one. An exact revision,
// and a continued list whose snapshot is gone, read the store at that revision.
func (s *Server) listPage(ctx context.Context, lr listRequest) (listPage, error) {
	if lr.token != nil {
		return s.continueList(ctx, lr)
	}
	rv, err := parseRV(lr.rv)
	if err != nil {
		return listPage{}, err
	}
	if lr.match == metav1.ResourceVersionMatchExact {
		return s.storeList(ctx, lr, rv, "")
	}
	cur, err := s.store.CurrentRevision(ctx)
	if err != nil {
		return listPage{}, err
	}
	want := rv
	if lr.rv == "" {
		want = cur
	} else if rv > cur {
		return listPage{}, tooLarge(rv, cur) // "not older than" a revision we have not reached
	}
	p, err := s.cacheList(ctx, lr, want, "", 0)
	if errors.Is(err, watchcache.ErrNotReady) || errors.Is(err, watchcache.ErrUnknownPrefix) {
		return s.storeList(ctx, lr, 0, "")
	}
	return p, err
}

// continueList serves the page after a continue token: from the snapshot the first
// page was cut from while the cache keeps it, else from the store at that revision,
// and 410 Expired once compaction has dropped it (with a token that continues at the
// newest revision instead, as kube-apiserver's).
func (s *Server) continueList(ctx context.Context, lr listRequest) (listPage, error) {
	tok := lr.token
	start := lr.res.listPrefix(lr.ns) + tok.Start
	if tok.RV == -1 {
		cur, err := s.store.CurrentRevision(ctx)
		if err != nil {
			return listPage{}, err
		}
		return s.cacheList(ctx, lr, cur, start, 0)
	}
	if tok.RV < s.store.CompactedRevision() {
		return listPage{}, expiredContinue(tok.Start)
	}
	p, err := s.cacheList(ctx, lr, 0, start, tok.RV)
	if errors.Is(err, watchcache.ErrNoSnapshot) || errors.Is(err, watchcache.ErrUnknownPrefix) {
		p, err = s.storeList(ctx, lr, tok.RV, start)
	}
	if errors.Is(err, store.ErrCompacted) {
		return listPage{}, expiredContinue(tok.Start)
	}
	return p, err
}

func expiredContinue(start string) error {
	err := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter, or use the continue token in this response to retrieve " +
		"the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that " +
		"were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
	err.ErrStatus.ListMeta.Continue = encodeContinue(continueToken{RV: -1, Start: start})
	return err
}

// cacheList reads a page from the watch cache once it has reached revision want, or
// (at != 0) from the snapshot of an earlier page at revision at.
func (s *Server) cacheList(ctx context.Context, lr listRequest, want int64, start string, at int64) (listPage, error) {
	if at == 0 {
		if err := s.cache.WaitFor(ctx, want, cacheWait); err != nil {
			return listPage{}, err
		}
	}
	prefix := lr.res.listPrefix(lr.ns)
	opts := watchcache.ListOptions{Prefix: prefix, Limit: lr.limit, Start: start, Rev: at}
	if !lr.sel.empty() {
		sel := lr.sel
		opts.Match = func(o *watchcache.Object) bool { return sel.label.Matches(o.Labels) && sel.field.Matches(o.Fields) }
		for _, f := range cacheIndexes[lr.res.gr()] {
			if v, ok := sel.field.RequiresExactMatch(f); ok {
				opts.IndexField, opts.IndexValue = f, v
			}
		}
	}
	res, err := s.cache.List(opts)
	if err != nil {
		return listPage{}, err
	}
	return pageOf(res.Items, res.Rev, prefix, res.Next, res.Remaining), nil
}

// storeList reads a page from the store at revision at (0 = now), from key start on.
func (s *Server) storeList(ctx context.Context, lr listRequest, at int64, start string) (listPage, error) {
	prefix := lr.res.listPrefix(lr.ns)
	kvs, rev, err := s.store.List(ctx, prefix, at)
	if errors.Is(err, store.ErrCompacted) && lr.token == nil {
		return listPage{}, tooOld(at, s.store.CompactedRevision())
	}
	if errors.Is(err, store.ErrFuture) {
		cur, _ := s.store.CurrentRevision(ctx)
		return listPage{}, tooLarge(at, cur)
	}
	if err != nil {
		return listPage{}, err
	}
	var objs []*watchcache.Object
	for _, kv := range kvs {
		if kv.Key < start {
			continue
		}
		o, err := cacheObject(lr.res, kv)
		if err != nil {
			return listPage{}, err
		}
		objs = append(objs, o)
	}
	opts := watchcache.ListOptions{Limit: lr.limit}
	if !lr.sel.empty() {
		opts.Match = func(o *watchcache.Object) bool {
			return lr.sel.label.Matches(o.Labels) && lr.sel.field.Matches(o.Fields)
		}
	}
	res := watchcache.Page(objs, opts, rev)
	return pageOf(res.Items, rev, prefix, res.Next, res.Remaining), nil
}

func pageOf(objs []*watchcache.Object, rev int64, prefix, next string, remaining *int64) listPage {
	p := listPage{objs: objs, rev: rev, remaining: remaining}
	if next != "" {
		p.continued = encodeContinue(continueToken{RV: rev, Start: strings.TrimPrefix(next, prefix)})
	}
	return p
}

// continueToken is kube-apiserver's continue token: the revision of the first page and
// the key (under the list's prefix) the next page starts at. RV -1 continues at the
// newest revision (offered when the first page's revision has been compacted).
type continueToken struct {
	APIVersion string `json:"v"`
	RV         int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(t continueToken) string {
	t.APIVersion = "meta.k8s.io/v1"
	data, _ := json.Marshal(t) // a struct of strings and ints always encodes
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(c string) (continueToken, error) {
	data, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return continueToken{}, fmt.Errorf("continue key is not valid: %v", err)
	}
	var t continueToken
	if err := json.Unmarshal(data, &t); err != nil {
		return continueToken{}, fmt.Errorf("continue key is not valid: %v", err)
	}
	switch {
	case t.APIVersion != "meta.k8s.io/v1":
		return continueToken{}, fmt.Errorf("continue key is not valid: got encoding version %q, want meta.k8s.io/v1", t.APIVersion)
	case t.RV == 0 || t.RV < -1:
		return continueToken{}, errors.New("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	case t.Start == "" || strings.HasPrefix(t.Start, "/"):
		return continueToken{}, errors.New("continue key is not valid: encoded start key is empty or absolute")
	}
	return t, nil
}
