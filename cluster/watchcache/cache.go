package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"webkube/cluster/store"
)

// Errors of Cache's reads.
var (
	// ErrNotReady: the cache has not reached the asked revision in time (or has not
	// loaded yet); the caller reads the store instead, or tells the client to retry.
	ErrNotReady = errors.New("watchcache: not at the requested revision yet")
	// ErrNoSnapshot: a continued list's revision is not kept in memory any more.
	ErrNoSnapshot = errors.New("watchcache: no snapshot at that revision")
	// ErrUnknownPrefix: no cached resource holds the key or prefix.
	ErrUnknownPrefix = errors.New("watchcache: prefix not cached")
)

// Resource is one cached resource: its store prefix, how to decode its values and
// which fields get an index for exact-match field selectors.
type Resource struct {
	Prefix  string
	Decode  func(kv store.KeyValue) (*Object, error)
	Indexes []string // e.g. "spec.nodeName": the kubelets' and the scheduler's lists
}

// Config configures a Cache.
type Config struct {
	Store     store.Store
	Resources []Resource
	// Snapshots is how many paged lists' snapshots are kept for their continue tokens
	// (default 16); SnapshotTTL how long one is kept after its last page (default 2m).
	Snapshots   int
	SnapshotTTL time.Duration
	Clock       clock.PassiveClock
	Logger      *slog.Logger
}

// Cache holds every cached resource's current objects. Create it with New, then Start.
type Cache struct {
	cfg Config
	log *slog.Logger

	mu     sync.RWMutex
	rev    int64 // every event up to rev has been received
	loaded bool
	res    []*resCache
	// pending counts the received events not yet applied, kept per resource (resCache's
	// pending): decoding waits until a read of that resource needs them or a batch fills
	// up, by when the API server has usually offered the object it wrote (so the write
	// is never decoded at all). A read of one resource applies only its own: a pod
	// create's admission lists LimitRanges, and must not decode the pods created before.
	pending int
	// changed is closed when rev advances; made only when a reader waits (WaitFor), so
	// an event nobody waits for allocates no channel.
	changed chan struct{}

	snaps snapshots
}

// New checks cfg and builds a Cache; nothing is loaded until Start.
func New(cfg Config) (*Cache, error) {
	if cfg.Store == nil {
		return nil, errors.New("watchcache: Config.Store is required")
	}
	if cfg.Snapshots == 0 {
		cfg.Snapshots = 16
	}
	if cfg.SnapshotTTL == 0 {
		cfg.SnapshotTTL = 2 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cache{cfg: cfg, log: cfg.Logger}
	for _, r := range cfg.Resources {
		if r.Prefix == "" || r.Decode == nil {
			return nil, fmt.Errorf("watchcache: resource %q needs a prefix and a decoder", r.Prefix)
		}
		c.res = append(c.res, newResCache(r))
	}
	c.snaps = snapshots{max: cfg.Snapshots, ttl: cfg.SnapshotTTL, clock: cfg.Clock}
	return c, nil
}

// Start loads the cache in the background and keeps it current until ctx ends. Reads
// made before it has loaded wait for it (WaitFor).
func (c *Cache) Start(ctx context.Context) {
	go c.run(ctx)
}

// run lists every key, then follows the store's watch from that revision. When the
// watch ends (the store dropped a slow watcher) it watches again from the last
// revision applied; when that revision has been compacted away, it lists again.
func (c *Cache) run(ctx context.Context) {
	var from int64
	for ctx.Err() == nil {
		if from == 0 {
			rev, err := c.load(ctx)
			if err != nil {
				c.retryPause(ctx, "watchcache: load failed", err)
				continue
			}
			from = rev
		}
		events, err := c.cfg.Store.Watch(ctx, "", from)
		if errors.Is(err, store.ErrCompacted) {
			from = 0
			continue
		}
		if err != nil {
			c.retryPause(ctx, "watchcache: watch failed", err)
			continue
		}
		for ev := range events {
			c.apply(ev, events)
		}
		from = c.Revision()
	}
}

func (c *Cache) retryPause(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil || errors.Is(err, store.ErrClosed) {
		return
	}
	c.log.Warn(msg, "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// load replaces the cache's contents with the store's current keys.
func (c *Cache) load(ctx context.Context) (int64, error) {
	kvs, rev, err := c.cfg.Store.List(ctx, "", 0)
	if err != nil {
		return 0, err
	}
	fresh := make([]*resCache, len(c.res))
	for i, r := range c.res {
		fresh[i] = newResCache(r.Resource)
	}
	for _, kv := range kvs {
		r := findRes(fresh, kv.Key)
		if r == nil {
			continue
		}
		o, err := r.Decode(kv)
		if err != nil {
			c.log.Error("watchcache: decoding stored object", "key", kv.Key, "err", err)
			continue
		}
		r.put(o)
	}
	c.mu.Lock()
	c.res, c.rev, c.loaded, c.pending = fresh, rev, true, 0
	c.notifyLocked()
	c.mu.Unlock()
	return rev, nil
}

// pendingMax is how many events wait for a read before the watch goroutine applies
// them itself; well under the API server's count of recent objects it keeps for reuse.
const pendingMax = 128

// applyMax is the most events one apply takes in under one lock.
const applyMax = 64

// apply takes ev into the cache, with the events already waiting behind it in more
// (a group commit's, which arrive together), and advances its revision: one lock and
// one wake-up of waiting readers per batch, not per event.
func (c *Cache) apply(ev store.Event, more <-chan store.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := 1; ; n++ {
		if r := findRes(c.res, ev.KV.Key); r != nil {
			r.pending = append(r.pending, ev)
			c.pending++
		}
		if c.pending >= pendingMax {
			for _, r := range c.res {
				c.flushLocked(r)
			}
		}
		c.rev = ev.KV.ModRevision
		if n == applyMax {
			break
		}
		var ok bool
		select {
		case ev, ok = <-more:
		default:
		}
		if !ok {
			break // nothing waiting, or the watch ended (run sees it closed)
		}
	}
	c.notifyLocked()
}

// flushLocked applies r's pending events, in order.
func (c *Cache) flushLocked(r *resCache) {
	for _, ev := range r.pending {
		if ev.Type == store.Deleted {
			r.remove(ev.KV.Key)
			continue
		}
		o, err := r.Decode(ev.KV)
		if err != nil {
			c.log.Error("watchcache: decoding event", "key", ev.KV.Key, "err", err)
			continue
		}
		r.put(o)
	}
	c.pending -= len(r.pending)
	clear(r.pending)
	r.pending = r.pending[:0]
}

// rlockFor read-locks the cache with no event pending for the resource holding key
// (returned; nil if none does), so what a reader sees of it is its state at c.rev.
func (c *Cache) rlockFor(key string) *resCache {
	for {
		c.mu.RLock()
		r := findRes(c.res, key)
		if r == nil || len(r.pending) == 0 {
			return r
		}
		c.mu.RUnlock()
		c.mu.Lock()
		if r := findRes(c.res, key); r != nil { // c.res is new if the cache reloaded
			c.flushLocked(r)
		}
		c.mu.Unlock()
	}
}

func (c *Cache) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// Revision is the newest revision the cache has applied (0 before it has loaded).
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// WaitFor waits until the cache has loaded and applied every event up to rev, for at
// most timeout; ErrNotReady if it has not by then.
func (c *Cache) WaitFor(ctx context.Context, rev int64, timeout time.Duration) error {
	var t *time.Timer // only when it must wait: most reads need not
	for {
		c.mu.RLock()
		ok := c.loaded && c.rev >= rev
		c.mu.RUnlock()
		if ok {
			return nil
		}
		ch, ok := c.waitChan(rev)
		if ok {
			return nil
		}
		if t == nil {
			t = time.NewTimer(timeout)
			defer t.Stop()
		}
		select {
		case <-ch:
		case <-t.C:
			return ErrNotReady
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitChan is the channel closed when the revision next advances, made if no reader
// waits yet; ok when the cache has reached rev meanwhile.
func (c *Cache) waitChan(rev int64) (ch <-chan struct{}, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && c.rev >= rev {
		return nil, true
	}
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed, false
}

// Get returns the cached object at key and the cache's revision. ok is false when the
// key does not exist; ErrUnknownPrefix when no cached resource holds it.
func (c *Cache) Get(key string) (o *Object, rev int64, ok bool, err error) {
	r := c.rlockFor(key)
	defer c.mu.RUnlock()
	if !c.loaded {
		return nil, 0, false, ErrNotReady
	}
	if r == nil {
		return nil, 0, false, ErrUnknownPrefix
	}
	o, ok = r.byKey[key]
	return o, c.rev, ok, nil
}

// findRes is the resource whose prefix holds key, or nil.
func findRes(res []*resCache, key string) *resCache {
	for _, r := range res {
		if strings.HasPrefix(key, r.Prefix) {
			return r
		}
	}
	return nil
}

// resCache is one resource's objects, by key and in key order, with its indexes.
type resCache struct {
	Resource
	byKey  map[string]*Object
	sorted []*Object                                // by Key: lists page in key order
	index  map[string]map[string]map[string]*Object // field → value → key → object
	// pending are this resource's events received but not applied yet (Cache.pending).
	pending []store.Event
}

func newResCache(r Resource) *resCache {
	rc := &resCache{Resource: r, byKey: map[string]*Object{}, index: map[string]map[string]map[string]*Object{}}
	for _, f := range r.Indexes {
		rc.index[f] = map[string]map[string]*Object{}
	}
	return rc
}

func (r *resCache) put(o *Object) {
	if old, ok := r.byKey[o.Key]; ok {
		r.unindex(old)
		r.sorted[r.pos(o.Key)] = o
	} else {
		i := r.pos(o.Key)
		r.sorted = append(r.sorted, nil)
		copy(r.sorted[i+1:], r.sorted[i:])
		r.sorted[i] = o
	}
	r.byKey[o.Key] = o
	for f, byValue := range r.index {
		v := o.Fields[f]
		if byValue[v] == nil {
			byValue[v] = map[string]*Object{}
		}
		byValue[v][o.Key] = o
	}
}

func (r *resCache) remove(key string) {
	old, ok := r.byKey[key]
	if !ok {
		return
	}
	r.unindex(old)
	delete(r.byKey, key)
	i := r.pos(key)
	r.sorted = append(r.sorted[:i], r.sorted[i+1:]...)
}

func (r *resCache) unindex(o *Object) {
	for f, byValue := range r.index {
		v := o.Fields[f]
		delete(byValue[v], o.Key)
		if len(byValue[v]) == 0 {
			delete(byValue, v)
		}
	}
}

// pos is the index of the first object whose key is not less than key.
func (r *resCache) pos(key string) int {
	return sort.Search(len(r.sorted), func(i int) bool { return r.sorted[i].Key >= key })
}

// Redecode decodes again, with decode, every object under prefix, from the JSON it was
// cached as: what a key holds has not changed but how it is read has (a CRD now served,
// or served from another storage version). An object decode fails for keeps its old form.
func (c *Cache) Redecode(prefix string, decode func(kv store.KeyValue) (*Object, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := findRes(c.res, prefix)
	if r == nil {
		return
	}
	c.flushLocked(r)
	for _, o := range inPrefix(r.sorted, prefix) {
		raw, err := o.JSON()
		if err == nil {
			var n *Object
			if n, err = decode(store.KeyValue{Key: o.Key, Value: raw, ModRevision: o.Rev}); err == nil {
				r.put(n)
				continue
			}
		}
		c.log.Error("watchcache: decoding again", "key", o.Key, "err", err)
	}
}
