package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTTL bounds how long a lost watch event can stall a ReplicaSet.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per ReplicaSet key, the creations and deletions this controller
// has asked for and not yet seen come back through the informer. While any are pending, a
// sync does not act on the (stale) cache, so a burst of events never creates duplicates.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys we deleted and have not seen disappear
	at        time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, m: map[string]*expectation{}}
}

// satisfied is true when nothing is pending, nothing was ever recorded, or the record expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.clock.Since(x.at) > expectationsTTL
}

func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, deletions: map[string]bool{}, at: e.clock.Now()}
}

func (e *expectations) expectDeletions(key string, pods []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletions: map[string]bool{}, at: e.clock.Now()}
	for _, p := range pods {
		x.deletions[p] = true
	}
	e.m[key] = x
}

// creationObserved counts a pod seen (or a create that failed, so will never be seen).
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved clears one pending deletion (seen gone, or the delete failed).
func (e *expectations) deletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletions, pod)
	}
}

func (e *expectations) delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
