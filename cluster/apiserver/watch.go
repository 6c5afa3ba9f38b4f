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
	m  map[string]*watchcache.Object
}

// eventCacheSize is small: watchers of one write read its entry within moments, and a
// big cache would keep megabytes of old objects alive in an idle server.
const eventCacheSize = 512

func (c *eventCache) entry(r *resource, kv store.KeyValue) (*watchcache.Object, error) {
	k := kv.Key + "@" + strconv.FormatInt(kv.ModRevision, 10)
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := cacheObject(r, kv)
	if err != nil {
		return nil, err
	}
	return c.put(k, e), nil
}

// prime offers the object a write just stored, so neither the watch cache nor the
// watchers decode it again. obj is shared from here on: nobody may change it.
func (c *eventCache) prime(r *resource, key string, rev int64, obj runtime.Object) {
	m := mustMeta(obj)
	e := watchcache.NewObject(key, rev, obj, labels.Set(m.GetLabels()), r.fieldSet(obj, m))
	c.put(key+"@"+strconv.FormatInt(rev, 10), e)
}

// lookup is the shared copy of key at rev, if one is held.
func (c *eventCache) lookup(key string, rev int64) *watchcache.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key+"@"+strconv.FormatInt(rev, 10)]
}

// put adds e unless an entry for k is there already, and returns the one kept.
func (c *eventCache) put(k string, e *watchcache.Object) *watchcache.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= eventCacheSize {
		c.m = make(map[string]*watchcache.Object, eventCacheSize) // old events are not asked for again
	}
	if prev, ok := c.m[k]; ok {
		return prev
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
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.runCtx(), cancel)
	defer stop()
	if v := q.Get("timeoutSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return badRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		if secs > 0 {
			var c2 context.CancelFunc
			ctx, c2 = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
			defer c2()
		}
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	sendInitial := rvStr == "" || rvStr == "0" || q.Get("sendInitialEvents") == "true"

	var initial []runtime.Object
	from := rv
	if sendInitial {
		initial, from, err = s.list(ctx, t.res, t.namespace, sel, url.Values{})
		if err != nil {
			return err
		}
	}
	var events <-chan store.Event
	var werr error
	if cur, err := s.store.CurrentRevision(ctx); err != nil {
		return err
	} else if from > cur {
		werr = tooLarge(from, cur)
	} else {
		events, werr = s.store.Watch(ctx, t.res.listPrefix(t.namespace), from)
		if errors.Is(werr, store.ErrCompacted) {
			werr = tooOld(rv, s.store.CompactedRevision())
		} else if werr != nil {
			return werr
		}
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
	if q.Get("sendInitialEvents") == "true" && bookmarks {
		if err := ew.bookmark(from, true); err != nil {
			return nil
		}
	}
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
			return nil
		case <-tick:
			if last > 0 {
				if err := ew.bookmark(last, false); err != nil {
					return nil
				}
			}
		case ev, ok := <-events:
			if !ok {
				return nil // the store dropped us; the client watches again from its last RV
			}
			last = ev.KV.ModRevision
			typ, obj, err := s.translate(t.res, sel, ev)
			if err != nil {
				s.log.Error("watch: decoding event", "key", ev.KV.Key, "err", err)
				continue
			}
			if typ == "" {
				continue
			}
			if out.mode == modeObject {
				// The common case: every watcher of this write sends the same bytes.
				raw, err := s.events.encoded(t.res, ev.KV)
				if err != nil {
					s.log.Error("watch: encoding event", "key", ev.KV.Key, "err", err)
					continue
				}
				err = ew.sendJSON(typ, raw)
				if err != nil {
					return nil
				}
				continue
			}
			if err := ew.send(typ, obj); err != nil {
				return nil
			}
		}
	}
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
