package garbagecollector

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// absentOwners remembers owners known to be gone, as Kubernetes' garbage collector's
// absentOwnerCache: the 1,000 pods of a deleted ReplicaSet then cost one lookup of
// their owner, not one each. A UID is never reused, so "gone" never goes stale; the
// oldest entries are forgotten first (they are only an optimisation).
type absentOwners struct {
	mu    sync.Mutex
	set   map[types.UID]struct{}
	order []types.UID // ring, oldest at next
	next  int
}

const absentOwnersSize = 8192

func (a *absentOwners) add(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.set == nil {
		a.set = make(map[types.UID]struct{}, absentOwnersSize)
		a.order = make([]types.UID, absentOwnersSize)
	}
	if _, ok := a.set[uid]; ok {
		return
	}
	delete(a.set, a.order[a.next])
	a.order[a.next] = uid
	a.next = (a.next + 1) % absentOwnersSize
	a.set[uid] = struct{}{}
}

func (a *absentOwners) has(uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.set[uid]
	return ok
}
