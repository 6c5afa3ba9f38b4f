// Package lessons turns the learners' notes into guided chapters. Each step says what to
// do (a dashboard button and the kubectl command to copy), checks the live cluster as the
// dashboard's informers see it, and explains what happened, linking to the object whose
// page shows the animator's story. Progress is kept behind the small Progress interface.
package lessons

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Namespace is where the lessons' objects live.
const Namespace = "default"

// State is the cluster as the dashboard's watches last saw it. Checks read only this, so
// a step passes only once the watched state really is there.
type State interface {
	Pods(ns string) []*corev1.Pod
	ReplicaSets(ns string) []*appsv1.ReplicaSet
	Deployments(ns string) []*appsv1.Deployment
	Services(ns string) []*corev1.Service
	Endpoints(ns, name string) *corev1.Endpoints
	// Logs is a container's recent output, "" while there is none or it cannot be read.
	Logs(ns, pod, container string) string
	// Exec runs cmd in a container: its output and whether it exited 0. It asks the
	// kubelet (through the API server's pods/exec), so a check sees inside the container.
	Exec(ns, pod, container string, cmd ...string) (string, bool)
}

// Actions are what a step's button does, through the Kubernetes API as kubectl would.
type Actions interface {
	Apply(ctx context.Context, yaml string) error
	Delete(ctx context.Context, kind, ns, name string) error
	// Label sets (value non-nil) or removes (nil) labels of a pod.
	Label(ctx context.Context, ns, pod string, labels map[string]*string) error
	Scale(ctx context.Context, kind, ns, name string, replicas int32) error
	// Rollback puts a Deployment's template back to that of a revision (0: the previous
	// one), as kubectl rollout undo does.
	Rollback(ctx context.Context, ns, name string, toRevision int64) error
	// Exec runs cmd in a container, as kubectl exec does.
	Exec(ctx context.Context, ns, pod, container string, cmd []string) error
}

// Progress remembers which steps of which lesson are done.
type Progress interface {
	Done(ctx context.Context, lesson string) (map[string]time.Time, error)
	MarkDone(ctx context.Context, lesson, step string, at time.Time) error
	Reset(ctx context.Context, lesson string) error
}

// Step is one thing to do and see.
type Step struct {
	ID      string
	Title   string // i18n key
	Explain string // i18n key: what happened, in the notes' terms
	// Command is the exact kubectl command (may name a live pod). It may be several lines:
	// a line starting with "# " is typed into the shell the kubectl line above opened, as
	// the notes write it.
	Command func(s State) string
	Files   []File // the files the command names, shown with it
	Do      func(ctx context.Context, a Actions, s State) error
	Check   func(s State) bool   // true only when the live cluster reached the state
	Story   func(s State) string // the object whose page shows this step's story, kind/ns/name; "" for none
}

// File is a YAML file a step's command applies.
type File struct{ Name, YAML string }

// Lesson is one chapter of the notes.
type Lesson struct {
	ID    string
	Title string // i18n key
	Intro string // i18n key
	Steps []Step
	// Objects are deleted by a reset, kind/name in Namespace.
	Objects []string
}

// All are the lessons in the notes' order.
func All() []*Lesson { return all }

// Find returns the lesson with id.
func Find(id string) (*Lesson, bool) {
	for _, l := range all {
		if l.ID == id {
			return l, true
		}
	}
	return nil, false
}

// StepState is how far one step is.
type StepState struct {
	Done    bool // recorded as passed
	Current bool // the first step not done: its check is being watched
}

// Evaluate runs the checks in order against s: the first step not yet recorded as done is
// checked, and if it passes it is recorded and the next one is checked. Steps are done in
// order, so a later step's check never passes on its own.
func Evaluate(ctx context.Context, l *Lesson, s State, p Progress, now time.Time) ([]StepState, error) {
	done, err := p.Done(ctx, l.ID)
	if err != nil {
		return nil, fmt.Errorf("lessons: progress of %s: %w", l.ID, err)
	}
	out := make([]StepState, len(l.Steps))
	current := true
	for i, st := range l.Steps {
		if _, ok := done[st.ID]; ok && current {
			out[i].Done = true
			continue
		}
		if current && st.Check(s) {
			if err := p.MarkDone(ctx, l.ID, st.ID, now); err != nil {
				return nil, fmt.Errorf("lessons: record %s/%s: %w", l.ID, st.ID, err)
			}
			out[i].Done = true
			continue
		}
		if current {
			out[i].Current = true
			current = false
		}
	}
	return out, nil
}

// Reset deletes the lesson's objects and forgets its progress.
func Reset(ctx context.Context, l *Lesson, a Actions, p Progress) error {
	for _, o := range l.Objects {
		kind, name, _ := cut(o)
		if err := a.Delete(ctx, kind, Namespace, name); err != nil {
			return fmt.Errorf("lessons: reset %s: delete %s: %w", l.ID, o, err)
		}
	}
	return p.Reset(ctx, l.ID)
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
