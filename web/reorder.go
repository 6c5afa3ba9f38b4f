package web

import (
	"sort"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
)

// settle is how long a watch event waits for events of other informers written before
// it. Each informer delivers on its own, so a ReplicaSet the deployment controller
// created could reach the dashboard before the Deployment change that made it, and its
// steps joined the story before the rollout's (TestBrowserRolloutStory failed about one
// run in eight).
const settle = 25 * time.Millisecond

// reorder hands watch events on in the order they were written: by resourceVersion,
// webkube's single store revision for every resource, once each has waited settle.
type reorder struct {
	held []change // by resourceVersion, then arrival
}

// add takes one change; one without a resourceVersion (a Gate notice) keeps its place
// after the ones already held.
func (r *reorder) add(ch change) {
	ch.rv = rvOf(ch.obj)
	i := sort.Search(len(r.held), func(i int) bool { return ch.rv != 0 && r.held[i].rv > ch.rv })
	if ch.rv == 0 {
		i = len(r.held)
	}
	r.held = append(r.held, change{})
	copy(r.held[i+1:], r.held[i:])
	r.held[i] = ch
}

// due removes and returns, in order, every change up to the last one that has waited
// settle by now: what was written before a settled change cannot wait longer either.
func (r *reorder) due(now time.Time) []change {
	last := -1
	for i, ch := range r.held {
		if !now.Before(ch.at.Add(settle)) {
			last = i
		}
	}
	out := append([]change(nil), r.held[:last+1]...)
	r.held = r.held[last+1:]
	return out
}

// next is when the earliest held change settles (zero when none is held).
func (r *reorder) next() time.Time {
	var t time.Time
	for _, ch := range r.held {
		if w := ch.at.Add(settle); t.IsZero() || w.Before(t) {
			t = w
		}
	}
	return t
}

func rvOf(obj any) uint64 {
	m, err := meta.Accessor(obj)
	if err != nil || obj == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	return n
}
