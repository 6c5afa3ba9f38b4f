package serviceproxy

import (
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// endpoint is one ready address of a service port, with its counters.
type endpoint struct {
	addr  string // ip:port
	pod   string // pod name from the targetRef, "" when the Endpoints have none
	stats *counters
}

// counters are one endpoint's traffic figures. They outlive the endpoint's membership so
// the dashboard can still show what a pod served after it turned unready.
type counters struct {
	connections atomic.Uint64 // connections handed to this endpoint
	active      atomic.Int64
	failed      atomic.Uint64 // dials that failed
	bytesIn     atomic.Uint64 // client → pod
	bytesOut    atomic.Uint64 // pod → client
}

// EndpointStats is what Stats reports per endpoint of a Service.
type EndpointStats struct {
	Port        string // the Service port's name ("" for a single unnamed port)
	Address     string // pod ip:port
	Pod         string
	Ready       bool // currently receiving new connections
	Connections uint64
	Active      int64
	Failed      uint64
	BytesIn     uint64 // client → pod
	BytesOut    uint64 // pod → client
}

// balancer picks endpoints for new connections: round robin, or sticky per client IP
// when the Service has sessionAffinity ClientIP.
type balancer struct {
	clock clock.PassiveClock

	mu        sync.Mutex
	endpoints []*endpoint
	next      int
	affinity  time.Duration // 0: no session affinity
	sticky    map[string]stickyEntry
	known     map[string]*counters // every endpoint seen, by addr
	pods      map[string]string    // addr → pod name, last seen
}

type stickyEntry struct {
	addr string
	last time.Time
}

func newBalancer(c clock.PassiveClock) *balancer {
	return &balancer{clock: c, known: map[string]*counters{}, pods: map[string]string{}}
}

// set replaces the endpoint list; connections in flight keep the endpoint they have.
func (b *balancer) set(addrs []endpointAddr, affinity time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	eps := make([]*endpoint, 0, len(addrs))
	for _, a := range addrs {
		st, ok := b.known[a.addr]
		if !ok {
			st = &counters{}
			b.known[a.addr] = st
		}
		b.pods[a.addr] = a.pod
		eps = append(eps, &endpoint{addr: a.addr, pod: a.pod, stats: st})
	}
	b.endpoints = eps
	b.prune()
	if affinity != b.affinity {
		b.sticky = nil
	}
	b.affinity = affinity
}

// pick returns the endpoint for a new connection from clientIP, skipping those in tried
// (endpoints that already refused this connection). nil means none is left.
func (b *balancer) pick(clientIP string, tried map[string]bool) *endpoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.endpoints) == 0 {
		return nil
	}
	now := b.clock.Now()
	if b.affinity > 0 {
		if s, ok := b.sticky[clientIP]; ok && now.Sub(s.last) < b.affinity && !tried[s.addr] {
			for _, e := range b.endpoints {
				if e.addr == s.addr {
					b.sticky[clientIP] = stickyEntry{addr: e.addr, last: now}
					return e
				}
			}
		}
	}
	for range b.endpoints {
		e := b.endpoints[b.next%len(b.endpoints)]
		b.next = (b.next + 1) % len(b.endpoints)
		if tried[e.addr] {
			continue
		}
		if b.affinity > 0 {
			if b.sticky == nil {
				b.sticky = map[string]stickyEntry{}
			}
			b.sticky[clientIP] = stickyEntry{addr: e.addr, last: now}
		}
		return e
	}
	return nil
}

// keepGone bounds how many endpoints that left are still reported, so pod churn cannot
// grow the map forever.
const keepGone = 32

func (b *balancer) prune() {
	if len(b.known) <= len(b.endpoints)+keepGone {
		return
	}
	current := map[string]bool{}
	for _, e := range b.endpoints {
		current[e.addr] = true
	}
	for addr, c := range b.known {
		if !current[addr] && c.active.Load() == 0 {
			delete(b.known, addr)
			delete(b.pods, addr)
		}
	}
}

func (b *balancer) stats(port string) []EndpointStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	ready := map[string]bool{}
	for _, e := range b.endpoints {
		ready[e.addr] = true
	}
	out := make([]EndpointStats, 0, len(b.known))
	for addr, c := range b.known {
		out = append(out, EndpointStats{
			Port: port, Address: addr, Pod: b.pods[addr], Ready: ready[addr],
			Connections: c.connections.Load(), Active: c.active.Load(), Failed: c.failed.Load(),
			BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		})
	}
	return out
}
