// Package stepper is the one place where the scheduler, the controllers and the kubelets
// announce each action they are about to take, so the dashboard's step mode can hold
// them there until the learner clicks Next. With step mode off, Wait returns at once.
package stepper

import (
	"context"
	"sync"
)

// Step names one action a component is about to take on one object.
type Step struct {
	Component string // "scheduler", "replicaset-controller", "kubelet/node-1", ...
	Action    string // "see-unassigned-pod", "bind", "create-pod", "delete-pod", "create-containers", "report-status", ...
	Kind      string // "Pod", "ReplicaSet", ...
	Namespace string
	Name      string
	Node      string // node involved, if any
	Message   string // human words: "binding default/echo to node-1"
}

// Gate holds steps while step mode is on.
type Gate struct {
	mu      sync.Mutex
	on      bool
	release chan struct{} // closed by Next or Run to let every waiting step go
	waiting []Step
	notify  func(Step)
}

// New returns a Gate with step mode off.
func New() *Gate { return &Gate{release: make(chan struct{})} }

// OnWait registers a function told about every step that starts waiting (for the UI).
func (g *Gate) OnWait(f func(Step)) {
	g.mu.Lock()
	g.notify = f
	g.mu.Unlock()
}

// Wait blocks while step mode is on, until Next or Run, or until ctx ends.
// A nil Gate never blocks, so components can be built without one.
func (g *Gate) Wait(ctx context.Context, s Step) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if !g.on {
		g.mu.Unlock()
		return nil
	}
	ch := g.release
	g.waiting = append(g.waiting, s)
	notify := g.notify
	g.mu.Unlock()
	if notify != nil {
		notify(s)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for i, w := range g.waiting {
			if w == s {
				g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
				break
			}
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

// SetStepMode turns step mode on or off. Turning it off releases every waiting step.
func (g *Gate) SetStepMode(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.on = on
	if !on {
		g.releaseLocked()
	}
}

// StepMode reports whether step mode is on.
func (g *Gate) StepMode() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.on
}

// Next releases the steps waiting now; later steps wait again.
func (g *Gate) Next() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

// Waiting lists the steps being held.
func (g *Gate) Waiting() []Step {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Step(nil), g.waiting...)
}

func (g *Gate) releaseLocked() {
	close(g.release)
	g.release = make(chan struct{})
	g.waiting = nil
}
