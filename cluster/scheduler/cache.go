package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// usage is what the pods bound (or being bound) to one node request.
type usage struct {
	milliCPU int64
	memory   int64
	pods     int64
	// nonzero requests count pods without requests as kube-scheduler's scoring does
	// (100m cpu, 200Mi memory), so empty pods still spread.
	nzCPU, nzMem int64
	owners       map[types.UID]int // pods per controller owner, for spreading
}

type podEntry struct {
	node    string
	req     request
	owner   types.UID
	assumed bool
}

// nodeCache tracks per-node usage from the pod informer plus the pods this scheduler has just
// bound but not yet seen back (assumed), so back-to-back decisions don't overcommit a node.
type nodeCache struct {
	mu    sync.Mutex
	pods  map[types.UID]podEntry
	nodes map[string]*usage
}

func newCache() *nodeCache {
	return &nodeCache{pods: map[types.UID]podEntry{}, nodes: map[string]*usage{}}
}

func ownerUID(p *corev1.Pod) types.UID {
	for _, r := range p.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}

func (c *nodeCache) node(name string) *usage {
	u := c.nodes[name]
	if u == nil {
		u = &usage{owners: map[types.UID]int{}}
		c.nodes[name] = u
	}
	return u
}

func (c *nodeCache) addLocked(uid types.UID, e podEntry) {
	u := c.node(e.node)
	u.milliCPU += e.req.milliCPU
	u.memory += e.req.memory
	u.nzCPU += e.req.nzCPU
	u.nzMem += e.req.nzMem
	u.pods++
	if e.owner != "" {
		u.owners[e.owner]++
	}
	c.pods[uid] = e
}

func (c *nodeCache) removeLocked(uid types.UID) {
	e, ok := c.pods[uid]
	if !ok {
		return
	}
	u := c.node(e.node)
	u.milliCPU -= e.req.milliCPU
	u.memory -= e.req.memory
	u.nzCPU -= e.req.nzCPU
	u.nzMem -= e.req.nzMem
	u.pods--
	if e.owner != "" {
		if u.owners[e.owner]--; u.owners[e.owner] <= 0 {
			delete(u.owners, e.owner)
		}
	}
	delete(c.pods, uid)
}

// update records the pod as the informer sees it. Finished pods free their node.
func (c *nodeCache) update(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.pods[p.UID]; ok && e.assumed && p.Spec.NodeName == "" {
		// A stale update from before our binding: keep the assumption until the bound
		// pod (or a binding failure) is seen, or the pod would be scheduled twice.
		return
	}
	c.removeLocked(p.UID)
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return
	}
	c.addLocked(p.UID, podEntry{node: p.Spec.NodeName, req: podRequest(p), owner: ownerUID(p)})
}

func (c *nodeCache) remove(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(uid)
}

// assume counts p on node before the binding is confirmed.
func (c *nodeCache) assume(p *corev1.Pod, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(p.UID)
	c.addLocked(p.UID, podEntry{node: node, req: podRequest(p), owner: ownerUID(p), assumed: true})
}

// forgetAssumed drops an assumption whose binding failed.
func (c *nodeCache) forgetAssumed(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.pods[uid]; ok && e.assumed {
		c.removeLocked(uid)
	}
}

func (c *nodeCache) isAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.pods[uid]
	return ok && e.assumed
}

// snapshot copies the usage of the named nodes so one decision sees one consistent state.
func (c *nodeCache) snapshot(names []string) map[string]usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]usage, len(names))
	for _, n := range names {
		if u, ok := c.nodes[n]; ok {
			cp := *u
			cp.owners = nil
			out[n] = cp
		}
	}
	return out
}

func (c *nodeCache) ownerCount(node string, owner types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.nodes[node]; ok {
		return u.owners[owner]
	}
	return 0
}
