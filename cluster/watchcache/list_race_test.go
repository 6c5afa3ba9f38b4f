package watchcache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"webkube/cluster/watchcache"
)

// TestListWhileWriting: a list taken while objects are created in the middle of the key
// order, and another reader applies them to the cache, holds each key once, in order,
// and every key written before. (A list read the live slice after unlocking the cache
// while another reader's flush shifted its entries: keys came twice or went missing.)
func TestListWhileWriting(t *testing.T) {
	st := newStore(t, 1000)
	c := startCache(t, st, watchcache.Config{})
	for i := 0; i < 400; i += 2 {
		put(t, st, fmt.Sprintf("%sns/p-%04d", prefix, i), item{App: "a"})
	}
	fresh(t, st, c)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i < 400 && ctx.Err() == nil; i += 2 {
			put(t, st, fmt.Sprintf("%sns/p-%04d", prefix, i), item{App: "a"})
		}
	}()
	// Another reader applies the creates to the cache while the lists below page.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := c.List(watchcache.ListOptions{Prefix: prefix + "other/"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	slow := func(o *watchcache.Object) bool {
		n := 0
		for i := 0; i < 5000; i++ {
			n += len(o.Key)
		}
		return n > 0
	}
	for round := 0; round < 200; round++ {
		res, err := c.List(watchcache.ListOptions{Prefix: prefix, Match: slow})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, o := range res.Items {
			if seen[o.Key] || (i > 0 && res.Items[i-1].Key >= o.Key) {
				t.Fatalf("round %d: %s twice or out of order in a list of %d", round, o.Key, len(res.Items))
			}
			seen[o.Key] = true
		}
		for i := 0; i < 400; i += 2 {
			if k := fmt.Sprintf("%sns/p-%04d", prefix, i); !seen[k] {
				t.Fatalf("round %d: %s missing from a list of %d", round, k, len(res.Items))
			}
		}
	}
}
