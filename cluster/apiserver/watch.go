package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// eventCache shares decoded and encoded objects between the watchers of one write and
// the watch cache, so 100 watchers and the cache cost about one decode and one encode
// per event, not 101 of each. The objects are read-only.
type eventCache struct {
	mu sync.Mutex
	// m takes new entries; old is the generation before, still read. An entry lives
	// for eventCacheSize to twice that many writes: the watch cache applies events in
	// batches, and a batch read just after a wholesale reset found none of the objects
	// its writes had offered (a third of pod creates decoded their pod again).
	m, old map[eventKey]*watchcache.Object
}

// eventKey is a key at one revision: a struct, not key+"@"+revision, so a look-up
// allocates nothing (three per pod create: prime, the answer's lookup, the watch
// cache's entry).
type eventKey struct {
	key string
	rev int64
}

// eventCacheSize is small: watchers of one write read its entry within moments, and a
// big cache would keep megabytes of old objects alive in an idle server.
const eventCacheSize = 512

func (c *eventCache) entry(r *resource, kv store.KeyValue) (*watchcache.Object, error) {
	k := eventKey{kv.Key, kv.ModRevision}
	if e := c.get(k); e != nil {
		return e, nil
	}
	e, err := cacheObject(r, kv)
	if err != nil {
		return nil, err
	}
	return c.put(k, e), nil
}

// prime offers the object a write just stored, so neither the watch cache nor the
// watchers decode it again, and its JSON made from the bytes stored (the answer to the
// write, the watchers and lists send those), so nobody encodes it again either. obj is
// shared from here on: nobody may change it.
func (c *eventCache) prime(r *resource, key string, rev int64, obj runtime.Object, stored []byte) {
	m := mustMeta(obj)
	e := watchcache.NewObject(key, rev, obj, labels.Set(m.GetLabels()), r.fieldSet(obj, m))
	if raw := withResourceVersion(stored, m); raw != nil {
		e.SetJSON(raw)
	}
	c.put(eventKey{key, rev}, e)
}

// lookup is the shared copy of key at rev, if one is held.
func (c *eventCache) lookup(key string, rev int64) *watchcache.Object {
	return c.get(eventKey{key, rev})
}

func (c *eventCache) get(k eventKey) *watchcache.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(k)
}

func (c *eventCache) getLocked(k eventKey) *watchcache.Object {
	if e, ok := c.m[k]; ok {
		return e
	}
	return c.old[k]
}

// put adds e unless an entry for k is there already, and returns the one kept.
func (c *eventCache) put(k eventKey, e *watchcache.Object) *watchcache.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.getLocked(k); prev != nil {
		return prev
	}
	if c.m == nil || len(c.m) >= eventCacheSize {
		// Older events than the previous generation's are not asked for again.
		c.old, c.m = c.m, make(map[eventKey]*watchcache.Object, eventCacheSize)
	}
	c.m[k] = e
	return e
}

// cacheObject decodes kv with the labels and fields selectors test.
func cacheObject(r *resource, kv store.KeyValue) (*watchcache.Object, error) {
	obj, err := decodeKV(r, kv)
	if err != nil {
		return nil, err
	}
	m := mustMeta(obj)
	return watchcache.NewObject(kv.Key, kv.ModRevision, obj, labels.Set(m.GetLabels()), r.fieldSet(obj, m)), nil
}

func (c *eventCache) decoded(r *resource, kv store.KeyValue) (runtime.Object, error) {
	e, err := c.entry(r, kv)
	if err != nil {
		return nil, err
	}
	return e.Obj, nil
}

func (c *eventCache) encoded(r *resource, kv store.KeyValue) ([]byte, error) {
	e, err := c.entry(r, kv)
	if err != nil {
		return nil, err
	}
	return e.JSON()
}

// serveWatch streams changes as newline-delimited JSON events, like kube-apiserver.
// resourceVersion "" or "0" first sends the current objects as ADDED; any other value
// resumes right after that revision. A selector turns objects moving out of (into) the
// selection into DELETED (ADDED) events, using the value before each write.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, t target) error {
	q := r.URL.Query()
	sel, err := parseSelectors(t.res, q, t.name)
	if err != nil {
		return err
	}
	rvStr := q.Get("resourceVersion")
	rv, err := parseRV(rvStr)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.watchContext(r)
	if err != nil {
		return err
	}
	defer cancel()
	bookmarks := queryBool(q, "allowWatchBookmarks")
	sendInitial := rvStr == "" || rvStr == "0" || queryBool(q, "sendInitialEvents")

	var initial []runtime.Object
	from := rv
	if sendInitial {
		initial, from, err = s.list(ctx, t.res, t.namespace, sel, url.Values{})
		if err != nil {
			return err
		}
	}
	events, werr, err := s.openWatch(ctx, t, rv, from)
	if err != nil {
		return err
	}

	out := negotiate(r)
	ew := &eventWriter{s: s, w: w, rc: http.NewResponseController(w), res: t.res, out: out}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	_ = ew.rc.Flush()
	if werr != nil {
		// Like kube-apiserver's watch cache: the stream opens, then one ERROR event
		// carries the 410 Expired (or 504 too large) status, and the client relists.
		st := s.toStatus(r, werr)
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		return ew.sendRaw("ERROR", st)
	}
	for _, obj := range initial {
		if err := ew.send("ADDED", obj); err != nil {
			return nil
		}
	}
	if queryBool(q, "sendInitialEvents") && bookmarks {
		if err := ew.bookmark(from, true); err != nil {
			return nil
		}
	}
	s.streamEvents(ctx, ew, t, sel, events, from, bookmarks)
	return nil
}

// watchContext is the request's context, ended also when the server stops or after the
// client's timeoutSeconds.
func (s *Server) watchContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.runCtx(), cancel)
	done := func() { stop(); cancel() }
	v := r.URL.Query().Get("timeoutSeconds")
	if v == "" {
		return ctx, done, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		done()
		return nil, nil, badRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
	}
	if secs == 0 {
		return ctx, done, nil
	}
	ctx, c2 := context.WithTimeout(ctx, time.Duration(secs)*time.Second)
	return ctx, func() { c2(); done() }, nil
}

// openWatch starts the store's watch after revision from. A revision compacted away or
// not reached yet is werr, which the stream reports as an ERROR event (kube-apiserver
// opens the stream first too); err is a failure to answer at all.
func (s *Server) openWatch(ctx context.Context, t target, rv, from int64) (events <-chan store.Event, werr, err error) {
	cur, err := s.store.CurrentRevision(ctx)
	if err != nil {
		return nil, nil, err
	}
	if from > cur {
		return nil, tooLarge(from, cur), nil
	}
	events, werr = s.store.Watch(ctx, t.res.listPrefix(t.namespace), from)
	if errors.Is(werr, store.ErrCompacted) {
		return nil, tooOld(rv, s.store.CompactedRevision()), nil
	}
	if werr != nil {
		return nil, nil, werr
	}
	return events, nil, nil
}

// streamEvents sends the store's events (and bookmarks, when asked) until the client
// goes, ctx ends or the store drops the watch (the client then watches again from its
// last resourceVersion).
func (s *Server) streamEvents(ctx context.Context, ew *eventWriter, t target, sel selectors, events <-chan store.Event, from int64, bookmarks bool) {
	var tick <-chan time.Time
	if bookmarks {
		ticker := time.NewTicker(s.cfg.BookmarkInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	last := from
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if last > 0 {
				if err := ew.bookmark(last, false); err != nil {
					return
				}
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			last = ev.KV.ModRevision
			if err := s.sendEvent(ew, t, sel, ev); err != nil {
				return
			}
		}
	}
}

// sendEvent sends one store event as the watcher should see it; only a failed write to
// the client is an error (an event that cannot be decoded is logged and skipped).
func (s *Server) sendEvent(ew *eventWriter, t target, sel selectors, ev store.Event) error {
	typ, obj, err := s.translate(t.res, sel, ev)
	if err != nil {
		s.log.Error("watch: decoding event", "key", ev.KV.Key, "err", err)
		return nil
	}
	if typ == "" {
		return nil
	}
	if ew.out.mode != modeObject {
		return ew.send(typ, obj)
	}
	// The common case: every watcher of this write sends the same bytes.
	raw, err := s.events.encoded(t.res, ev.KV)
	if err != nil {
		s.log.Error("watch: encoding event", "key", ev.KV.Key, "err", err)
		return nil
	}
	return ew.sendJSON(typ, raw)
}

// translate turns a store event into the watch event a client with sel should see,
// or "" when the change is invisible to it.
func (s *Server) translate(r *resource, sel selectors, ev store.Event) (string, runtime.Object, error) {
	cur, err := s.events.decoded(r, ev.KV)
	if err != nil {
		return "", nil, err
	}
	switch ev.Type {
	case store.Added:
		if sel.matches(r, cur) {
			return "ADDED", cur, nil
		}
	case store.Deleted:
		if sel.matches(r, cur) {
			return "DELETED", cur, nil
		}
	case store.Modified:
		now := sel.matches(r, cur)
		before := true
		if !sel.empty() && ev.PrevKV != nil {
			prev, err := s.events.decoded(r, *ev.PrevKV)
			if err != nil {
				return "", nil, err
			}
			before = sel.matches(r, prev)
		}
		switch {
		case now && before:
			return "MODIFIED", cur, nil
		case now:
			return "ADDED", cur, nil
		case before:
			return "DELETED", cur, nil
		}
	}
	return "", nil, nil
}

// eventWriter encodes and flushes watch events in the representation the client asked for.
type eventWriter struct {
	s         *Server
	w         http.ResponseWriter
	rc        *http.ResponseController
	res       *resource
	out       output
	sentTable bool
}

func (e *eventWriter) send(typ string, obj runtime.Object) error {
	var payload any = obj
	switch e.out.mode {
	case modeTable:
		// Column definitions only in the first event, as kube-apiserver does.
		t, err := e.s.table(e.res, []runtime.Object{obj}, mustMeta(obj).GetResourceVersion(), e.out.include, !e.sentTable)
		if err != nil {
			return err
		}
		e.sentTable = true
		payload = t
	case modePartial:
		payload = partial(obj)
	}
	return e.sendRaw(typ, payload)
}

func (e *eventWriter) bookmark(rev int64, initialEnd bool) error {
	obj := e.res.newObj()
	obj.GetObjectKind().SetGroupVersionKind(e.res.gvk())
	m := mustMeta(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return e.sendRaw("BOOKMARK", obj)
}

func (e *eventWriter) sendRaw(typ string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return e.sendJSON(typ, raw)
}

// sendJSON writes one event around an already encoded object. Written by hand because
// json.Marshal would re-compact the object bytes for every watcher.
func (e *eventWriter) sendJSON(typ string, raw []byte) error {
	line := make([]byte, 0, len(raw)+32)
	line = append(line, `{"type":"`...)
	line = append(line, typ...)
	line = append(line, `","object":`...)
	line = append(line, raw...)
	line = append(line, "}\n"...)
	if _, err := e.w.Write(line); err != nil {
		return err
	}
	return e.rc.Flush()
}
