package watchcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// item is the stored value of the tests' objects: a label and an indexed field.
type item struct {
	Node string `json:"node"`
	App  string `json:"app"`
}

const prefix = "/registry/core/pods/"

func decode(kv store.KeyValue) (*watchcache.Object, error) {
	var it item
	if err := json.Unmarshal(kv.Value, &it); err != nil {
		return nil, err
	}
	return watchcache.NewObject(kv.Key, kv.ModRevision, nil, labels.Set{"app": it.App}, fields.Set{"spec.nodeName": it.Node}), nil
}

func newStore(t *testing.T, buffer int) *store.SQLite {
	t.Helper()
	st, err := store.New(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "s.db"), CompactInterval: -1, WatchBuffer: buffer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func startCache(t *testing.T, st store.Store, cfg watchcache.Config) *watchcache.Cache {
	t.Helper()
	cfg.Store = st
	cfg.Resources = []watchcache.Resource{{Prefix: prefix, Decode: decode, Indexes: []string{"spec.nodeName"}}}
	c, err := watchcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Start(ctx)
	return c
}

func put(t *testing.T, st store.Store, key string, it item) int64 {
	t.Helper()
	data, _ := json.Marshal(it)
	rev, err := st.Update(context.Background(), key, data, 0)
	if err == store.ErrNotFound {
		rev, err = st.Create(context.Background(), key, data)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// fresh waits until the cache has applied everything the store has written.
func fresh(t *testing.T, st store.Store, c *watchcache.Cache) int64 {
	t.Helper()
	rev, err := st.CurrentRevision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(context.Background(), rev, 5*time.Second); err != nil {
		t.Fatalf("cache at %d, store at %d: %v", c.Revision(), rev, err)
	}
	return rev
}

func keys(objs []*watchcache.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func TestCacheFollowsStore(t *testing.T) {
	st := newStore(t, 0)
	put(t, st, prefix+"a/p1", item{Node: "n1", App: "web"}) // before the cache starts: loaded
	put(t, st, "/registry/core/other/x", item{})            // not cached, still advances the revision
	c := startCache(t, st, watchcache.Config{})
	put(t, st, prefix+"a/p2", item{Node: "n2", App: "db"}) // after: watched
	rev := put(t, st, prefix+"b/p3", item{Node: "n1", App: "web"})
	if _, err := st.Delete(context.Background(), prefix+"a/p1", 0); err != nil {
		t.Fatal(err)
	}
	put(t, st, prefix+"b/p3", item{Node: "n2", App: "web"}) // moves to n2
	now := fresh(t, st, c)

	all, err := c.List(watchcache.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(all.Items)); got != fmt.Sprint([]string{prefix + "a/p2", prefix + "b/p3"}) || all.Rev != now {
		t.Fatalf("list = %s at %d, want p2, p3 at %d", got, all.Rev, now)
	}
	ns, _ := c.List(watchcache.ListOptions{Prefix: prefix + "b/"})
	if len(ns.Items) != 1 || ns.Items[0].Key != prefix+"b/p3" || ns.Items[0].Rev <= rev {
		t.Fatalf("namespace b = %v", keys(ns.Items))
	}
	n1, _ := c.List(watchcache.ListOptions{Prefix: prefix, IndexField: "spec.nodeName", IndexValue: "n1"})
	n2, _ := c.List(watchcache.ListOptions{Prefix: prefix, IndexField: "spec.nodeName", IndexValue: "n2"})
	if len(n1.Items) != 0 || len(n2.Items) != 2 {
		t.Fatalf("index: n1 = %v, n2 = %v (p3 moved to n2, p1 is gone)", keys(n1.Items), keys(n2.Items))
	}
	web, _ := c.List(watchcache.ListOptions{Prefix: prefix, Match: func(o *watchcache.Object) bool { return o.Labels["app"] == "web" }})
	if len(web.Items) != 1 {
		t.Fatalf("app=web = %v", keys(web.Items))
	}
	if _, _, ok, err := c.Get(prefix + "a/p1"); ok || err != nil {
		t.Fatalf("deleted p1: ok=%v err=%v", ok, err)
	}
	if o, _, ok, _ := c.Get(prefix + "a/p2"); !ok || o.Fields["spec.nodeName"] != "n2" {
		t.Fatalf("get p2 = %+v, %v", o, ok)
	}
	if _, _, _, err := c.Get("/registry/core/other/x"); err != watchcache.ErrUnknownPrefix {
		t.Fatalf("uncached key: %v", err)
	}
}

// A consistent read waits for the cache to reach the store's revision; a revision the
// store has not reached times out with ErrNotReady.
func TestWaitFor(t *testing.T) {
	st := newStore(t, 0)
	c := startCache(t, st, watchcache.Config{})
	for i := 0; i < 200; i++ {
		put(t, st, fmt.Sprintf("%sa/p%03d", prefix, i), item{})
		rev, _ := st.CurrentRevision(context.Background())
		if err := c.WaitFor(context.Background(), rev, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		l, _ := c.List(watchcache.ListOptions{Prefix: prefix})
		if len(l.Items) != i+1 {
			t.Fatalf("after write %d at %d the cache lists %d", i+1, rev, len(l.Items))
		}
	}
	if err := c.WaitFor(context.Background(), 1e9, 50*time.Millisecond); err != watchcache.ErrNotReady {
		t.Fatalf("future revision: %v", err)
	}
}

// Pages after the first come from the first page's snapshot: writes made between pages
// do not show, and every object of that revision comes back once.
func TestPagingSnapshot(t *testing.T) {
	st := newStore(t, 0)
	c := startCache(t, st, watchcache.Config{})
	for i := 0; i < 10; i++ {
		put(t, st, fmt.Sprintf("%sa/p%02d", prefix, i), item{})
	}
	fresh(t, st, c)
	first, err := c.List(watchcache.ListOptions{Prefix: prefix, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 4 || first.Next != prefix+"a/p04" || first.Remaining == nil || *first.Remaining != 6 {
		t.Fatalf("first page = %v next %q remaining %v", keys(first.Items), first.Next, first.Remaining)
	}
	if _, err := st.Delete(context.Background(), prefix+"a/p05", 0); err != nil {
		t.Fatal(err)
	}
	put(t, st, prefix+"a/p99", item{})
	fresh(t, st, c)
	got := keys(first.Items)
	next := first.Next
	for next != "" {
		p, err := c.List(watchcache.ListOptions{Prefix: prefix, Limit: 4, Start: next, Rev: first.Rev})
		if err != nil {
			t.Fatal(err)
		}
		if p.Rev != first.Rev {
			t.Fatalf("page at %d, first at %d", p.Rev, first.Rev)
		}
		got = append(got, keys(p.Items)...)
		next = p.Next
	}
	want := []string{}
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("%sa/p%02d", prefix, i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages = %v\nwant   %v", got, want)
	}
	if _, err := c.List(watchcache.ListOptions{Prefix: prefix, Start: next, Rev: first.Rev - 1}); err != watchcache.ErrNoSnapshot {
		t.Fatalf("a revision never paged: %v", err)
	}
}

// The store drops a watcher that falls behind; the cache watches again from its last
// revision and misses nothing.
func TestRewatchAfterDrop(t *testing.T) {
	st := newStore(t, 2)
	c := startCache(t, st, watchcache.Config{})
	fresh(t, st, c)
	for i := 0; i < 500; i++ {
		put(t, st, fmt.Sprintf("%sa/p%03d", prefix, i%300), item{App: fmt.Sprint(i)})
	}
	fresh(t, st, c)
	l, _ := c.List(watchcache.ListOptions{Prefix: prefix})
	if len(l.Items) != 300 {
		t.Fatalf("cache has %d objects, want 300", len(l.Items))
	}
	for _, o := range l.Items {
		kv, err := st.Get(context.Background(), o.Key)
		if err != nil || kv.ModRevision != o.Rev {
			t.Fatalf("%s: cache at %d, store at %d (%v)", o.Key, o.Rev, kv.ModRevision, err)
		}
	}
}

// A cache started after history was compacted past its last revision lists again.
func TestRelistAfterCompaction(t *testing.T) {
	st, err := store.New(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "s.db"), CompactInterval: -1,
		KeepRevisions: 1, MinRevisions: 1, MaxHistoryAge: -1, WatchBuffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := startCache(t, st, watchcache.Config{})
	fresh(t, st, c)
	for i := 0; i < 300; i++ {
		put(t, st, fmt.Sprintf("%sa/p%03d", prefix, i%50), item{})
		if i%20 == 0 {
			if err := st.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	fresh(t, st, c)
	l, _ := c.List(watchcache.ListOptions{Prefix: prefix})
	if len(l.Items) != 50 {
		t.Fatalf("cache has %d objects, want 50", len(l.Items))
	}
}

// TestReadDecodesOnlyItsResource: a read of one resource applies that resource's
// pending events and leaves another's waiting, so a pod create's admission (which lists
// LimitRanges) does not decode the pods written just before it, before the API server
// has offered them already decoded. Once read, the other resource is current too.
func TestReadDecodesOnlyItsResource(t *testing.T) {
	st := newStore(t, 1000)
	const limits = "/registry/core/limitranges/"
	var podDecodes atomic.Int64
	c, err := watchcache.New(watchcache.Config{Store: st, Resources: []watchcache.Resource{
		{Prefix: prefix, Decode: func(kv store.KeyValue) (*watchcache.Object, error) {
			podDecodes.Add(1)
			return decode(kv)
		}},
		{Prefix: limits, Decode: decode},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	fresh(t, st, c)
	for i := 0; i < 5; i++ {
		put(t, st, fmt.Sprintf("%sns/p-%d", prefix, i), item{App: "a"})
	}
	put(t, st, limits+"ns/l", item{App: "l"})
	fresh(t, st, c)
	res, err := c.List(watchcache.ListOptions{Prefix: limits})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("limit ranges: %v %v", keys(res.Items), err)
	}
	if _, _, ok, err := c.Get(limits + "ns/l"); !ok || err != nil {
		t.Fatalf("get limit range: %v %v", ok, err)
	}
	if n := podDecodes.Load(); n != 0 {
		t.Fatalf("reading limit ranges decoded %d pods", n)
	}
	res, err = c.List(watchcache.ListOptions{Prefix: prefix})
	if err != nil || len(res.Items) != 5 {
		t.Fatalf("pods: %v %v", keys(res.Items), err)
	}
	if n := podDecodes.Load(); n != 5 {
		t.Fatalf("pods decoded %d times, want 5", n)
	}
}
