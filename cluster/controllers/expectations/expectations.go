// Package expectations remembers the creations and deletions a controller asked for and has
// not yet seen through its informer, as kube-controller-manager's ControllerExpectations:
// while any are pending, a sync must not act on the stale cache.
package expectations

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// TTL bounds how long a lost watch event can stall an owner.
const TTL = 5 * time.Minute

// Expectations remembers, per owner key (a ReplicaSet's, a Job's), the creations and
// deletions a controller has asked for and not yet seen come back through the informer.
// While any are pending, a sync does not act on the (stale) cache, so a burst of events
// never creates duplicates.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds      int
	deletions map[string]bool // pod keys we deleted and have not seen disappear
	at        time.Time
}

// New returns empty Expectations timed by c.
func New(c clock.PassiveClock) *Expectations {
	return &Expectations{clock: c, m: map[string]*expectation{}}
}

// Satisfied is true when nothing is pending, nothing was ever recorded, or the record expired.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletions) == 0 {
		return true
	}
	return e.clock.Since(x.at) > TTL
}

// ExpectCreations records n creations to wait for, replacing what was pending.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, deletions: map[string]bool{}, at: e.clock.Now()}
}

// ExpectDeletions records the pod keys whose deletion to wait for.
func (e *Expectations) ExpectDeletions(key string, pods []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletions: map[string]bool{}, at: e.clock.Now()}
	for _, p := range pods {
		x.deletions[p] = true
	}
	e.m[key] = x
}

// CreationObserved counts a pod seen (or a create that failed, so will never be seen).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved clears one pending deletion (seen gone, or the delete failed).
func (e *Expectations) DeletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletions, pod)
	}
}

// Delete forgets key (its owner is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
