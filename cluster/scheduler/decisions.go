package scheduler

import (
	"fmt"
	"sync"
	"time"

	"webkube/cluster/stepper"
)

// NodeResult is how one node fared for one pod.
type NodeResult struct {
	Node     string   `json:"node"`
	Feasible bool     `json:"feasible"`
	Reasons  []string `json:"reasons,omitempty"` // why it was filtered out, in kube-scheduler's words
	// Scores are per plugin (0-100); Score is their sum. Only feasible nodes are scored.
	Scores map[string]int64 `json:"scores,omitempty"`
	Score  int64            `json:"score"`
}

// Decision is one scheduling attempt for one pod.
type Decision struct {
	Time      time.Time    `json:"time"`
	Namespace string       `json:"namespace"`
	Name      string       `json:"name"`
	UID       string       `json:"uid"`
	Nodes     []NodeResult `json:"nodes"`
	Chosen    string       `json:"chosen,omitempty"` // empty when the pod did not fit
	Message   string       `json:"message"`          // the Scheduled or FailedScheduling event text
}

// Why says in one plain clause why the chosen node won: "it is the only node that passes
// every filter", or its score against the others'.
func (d Decision) Why() string {
	en, _ := d.reason()
	return en
}

// Because is Why as a key of the dashboard's catalogues, said in each page's language.
func (d Decision) Because() stepper.Text {
	_, t := d.reason()
	return t
}

func (d Decision) reason() (string, stepper.Text) {
	if d.Chosen == "" {
		return d.Message, stepper.Text{}
	}
	feasible, best, second := 0, int64(-1), int64(-1)
	for _, n := range d.Nodes {
		if !n.Feasible {
			continue
		}
		feasible++
		if n.Node == d.Chosen {
			best = n.Score
		} else {
			second = max(second, n.Score)
		}
	}
	switch {
	case len(d.Nodes) == 1:
		return "it is the only node", stepper.Say("why.only_node")
	case feasible == 1:
		return "it is the only node that passes every filter", stepper.Say("why.only_feasible")
	case second == best:
		return fmt.Sprintf("it ties with another node at score %d and won the draw", best), stepper.Say("why.tie", best)
	}
	return fmt.Sprintf("it scores %d, the highest of the %d nodes that pass every filter", best, feasible),
		stepper.Say("why.highest", best, feasible)
}

// ring keeps the last decisions, oldest overwritten first, so memory stays bounded
// however many pods pass through.
type ring struct {
	mu    sync.Mutex
	buf   []Decision
	next  int
	count int
}

func newRing(n int) *ring { return &ring{buf: make([]Decision, n)} }

func (r *ring) add(d Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = d
	r.next = (r.next + 1) % len(r.buf)
	if r.count < len(r.buf) {
		r.count++
	}
}

// all returns the kept decisions, oldest first.
func (r *ring) all() []Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Decision, 0, r.count)
	start := (r.next - r.count + len(r.buf)) % len(r.buf)
	for i := range r.count {
		out = append(out, r.buf[(start+i)%len(r.buf)])
	}
	return out
}

// latest returns the newest decision for namespace/name.
func (r *ring) latest(ns, name string) (Decision, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i <= r.count; i++ {
		d := r.buf[(r.next-i+len(r.buf))%len(r.buf)]
		if d.Namespace == ns && d.Name == name {
			return d, true
		}
	}
	return Decision{}, false
}
