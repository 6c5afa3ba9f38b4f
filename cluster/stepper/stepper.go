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
	Why       string // the reason, when the component knows it: "it is the only node that passes every filter"
	// Says and Because are Message and Why as keys of the dashboard's message catalogues
	// (web/i18n) with their arguments, so each page says them in its own language; Message
	// and Why stay the English, for logs. Either may be empty.
	Says, Because Text
}

// Text is a sentence as a catalogue key and its arguments; an argument may be a Text.
type Text struct {
	Key  string
	Args []any
}

// Say is the Text of key with args. The dashboard's catalogue test finds keys written
// as Say("key", ...), and fails if either language lacks one.
func Say(key string, args ...any) Text { return Text{Key: key, Args: args} }

// Msg returns the key and arguments (the dashboard's i18n.Keyed).
func (t Text) Msg() (string, []any) { return t.Key, t.Args }

// waiter is one held Wait; release is closed to let exactly that one go.
type waiter struct {
	step    Step
	seq     uint64
	release chan struct{}
}

// Gate holds steps while step mode is on, each until it is released on its own.
type Gate struct {
	mu      sync.Mutex
	on      bool
	seq     uint64
	waiting []*waiter // oldest first
	notify  func(Step)
}

// New returns a Gate with step mode off.
func New() *Gate { return &Gate{} }

// OnWait registers a function told about every step that starts waiting (for the UI).
func (g *Gate) OnWait(f func(Step)) {
	g.mu.Lock()
	g.notify = f
	g.mu.Unlock()
}

// Wait blocks while step mode is on, until Next releases this step (the oldest held),
// Run (step mode off) releases all, or ctx ends. A nil Gate never blocks, so components
// can be built without one.
func (g *Gate) Wait(ctx context.Context, s Step) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if !g.on {
		g.mu.Unlock()
		return nil
	}
	g.seq++
	w := &waiter{step: s, seq: g.seq, release: make(chan struct{})}
	g.waiting = append(g.waiting, w)
	notify := g.notify
	g.mu.Unlock()
	if notify != nil {
		notify(s)
	}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		g.removeLocked(w)
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
		for _, w := range g.waiting {
			close(w.release)
		}
		g.waiting = nil
	}
}

// StepMode reports whether step mode is on.
func (g *Gate) StepMode() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.on
}

// Next releases exactly one step, the one held longest, and returns it; ok is false when
// nothing was held. Every other step stays held.
func (g *Gate) Next() (s Step, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.waiting) == 0 {
		return Step{}, false
	}
	w := g.waiting[0]
	g.waiting = g.waiting[1:]
	close(w.release)
	return w.step, true
}

// Waiting lists the steps being held, oldest first.
func (g *Gate) Waiting() []Step {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Step, len(g.waiting))
	for i, w := range g.waiting {
		out[i] = w.step
	}
	return out
}

func (g *Gate) removeLocked(w *waiter) {
	for i, x := range g.waiting {
		if x == w {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			return
		}
	}
}
