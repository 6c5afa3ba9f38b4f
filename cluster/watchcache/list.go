package watchcache

import (
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ListOptions says what a List returns.
type ListOptions struct {
	// Prefix selects keys (a resource's prefix, or a namespace's within it).
	Prefix string
	// Match, if set, keeps only the objects it accepts (label and field selectors).
	Match func(*Object) bool
	// IndexField and IndexValue, if the resource indexes IndexField, narrow the list to
	// objects whose field has that value before Match runs.
	IndexField, IndexValue string
	// Limit is the most objects to return (0 = all); Start the first key to consider.
	Limit int64
	Start string
	// Rev, when set, asks for the snapshot an earlier page was served from (a continue
	// token's revision) rather than the current objects.
	Rev int64
}

// ListResult is one page.
type ListResult struct {
	Items []*Object
	Rev   int64 // the revision the page is consistent at
	// Next is the key the next page starts at ("" = this was the last page);
	// Remaining, when known (no Match), is how many objects come after this page.
	Next      string
	Remaining *int64
}

// List returns the objects under opts.Prefix at the cache's revision, or at the
// revision of an earlier page (opts.Rev) while its snapshot is kept. A page that
// leaves objects behind keeps its snapshot so the next pages see the same revision.
func (c *Cache) List(opts ListOptions) (ListResult, error) {
	if opts.Rev != 0 {
		objs, ok := c.snaps.get(opts.Prefix, opts.Rev)
		if !ok {
			return ListResult{}, ErrNoSnapshot
		}
		return Page(objs, opts, opts.Rev), nil
	}
	r := c.rlockFor(opts.Prefix)
	if !c.loaded {
		c.mu.RUnlock()
		return ListResult{}, ErrNotReady
	}
	if r == nil {
		c.mu.RUnlock()
		return ListResult{}, ErrUnknownPrefix
	}
	rev := c.rev
	if byValue, ok := r.index[opts.IndexField]; ok && opts.Limit == 0 {
		objs := indexed(byValue[opts.IndexValue], opts.Prefix)
		c.mu.RUnlock()
		return Page(objs, opts, rev), nil
	}
	// The page is taken from a copy (kept for the continue token): another reader's
	// flush shifts the live slice's entries once the cache is unlocked.
	objs := append([]*Object(nil), inPrefix(r.sorted, opts.Prefix)...)
	c.mu.RUnlock()
	res := Page(objs, opts, rev)
	if res.Next != "" {
		c.snaps.put(opts.Prefix, rev, objs)
	}
	return res, nil
}

// Page applies Start, Match and Limit to objs, which are in key order.
func Page(objs []*Object, opts ListOptions, rev int64) ListResult {
	res := ListResult{Rev: rev, Items: []*Object{}}
	i := sort.Search(len(objs), func(i int) bool { return objs[i].Key >= opts.Start })
	for ; i < len(objs); i++ {
		o := objs[i]
		if opts.Match != nil && !opts.Match(o) {
			continue
		}
		if opts.Limit > 0 && int64(len(res.Items)) == opts.Limit {
			res.Next = o.Key
			if opts.Match == nil {
				n := int64(len(objs) - i)
				res.Remaining = &n
			}
			break
		}
		res.Items = append(res.Items, o)
	}
	return res
}

// inPrefix is the run of sorted whose keys start with prefix.
func inPrefix(sorted []*Object, prefix string) []*Object {
	lo := sort.Search(len(sorted), func(i int) bool { return sorted[i].Key >= prefix })
	hi := lo + sort.Search(len(sorted)-lo, func(i int) bool { return !strings.HasPrefix(sorted[lo+i].Key, prefix) })
	return sorted[lo:hi]
}

// indexed is the objects of one index entry under prefix, in key order.
func indexed(byKey map[string]*Object, prefix string) []*Object {
	out := make([]*Object, 0, len(byKey))
	for k, o := range byKey {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// snapshots keeps the objects paged lists were served from, so their continue tokens
// read the same revision: a few, each for a while after its last use.
type snapshots struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	clock clock.PassiveClock
	m     map[snapKey]*snapshot
}

type snapKey struct {
	prefix string
	rev    int64
}

type snapshot struct {
	objs []*Object
	used time.Time
}

func (s *snapshots) put(prefix string, rev int64, objs []*Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[snapKey]*snapshot{}
	}
	now := s.clock.Now()
	s.expireLocked(now)
	if len(s.m) >= s.max {
		var oldest snapKey
		for k, v := range s.m {
			if oldest.rev == 0 || v.used.Before(s.m[oldest].used) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[snapKey{prefix, rev}] = &snapshot{objs: objs, used: now}
}

func (s *snapshots) get(prefix string, rev int64) ([]*Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.expireLocked(now)
	sn, ok := s.m[snapKey{prefix, rev}]
	if !ok {
		return nil, false
	}
	sn.used = now
	return sn.objs, true
}

func (s *snapshots) expireLocked(now time.Time) {
	for k, v := range s.m {
		if now.Sub(v.used) > s.ttl {
			delete(s.m, k)
		}
	}
}
