// Package stories groups the dashboard's steps by what caused them: a learner's action
// (you applied, scaled, relabelled, deleted) starts a story, and every step that follows
// from it (through the objects it touched, their owners and their pods) joins that story.
// So flows of different objects do not interleave, and an object's page can show only
// the stories it took part in.
package stories

import (
	"strings"

	"webkube/web/steps"
)

// Tracker assigns stories. Feed it steps in order from one goroutine.
type Tracker struct {
	next   int
	bound  map[string]int // object key -> the story its next steps join
	titles map[int]string
}

// maxBound caps the remembered objects; past it, old bindings are forgotten (a later step
// of a forgotten object starts its own story instead of joining an old one).
const maxBound = 20000

// New returns an empty Tracker.
func New() *Tracker { return &Tracker{bound: map[string]int{}, titles: map[int]string{}} }

// Assign sets s.Story and s.StoryTitle: a learner's action starts a new story; any other
// step joins the story of its object, else of its owner, else starts one of its own.
func (t *Tracker) Assign(s *steps.Step) {
	id := 0
	switch {
	case s.Root != "":
		id = t.start(s.Root)
	case t.bound[s.StoryKey] != 0:
		id = t.bound[s.StoryKey]
	case s.Owner != "" && t.bound[ownerKey(s)] != 0:
		id = t.bound[ownerKey(s)]
	default:
		id = t.start(orphanTitle(s))
	}
	if len(t.bound) > maxBound {
		t.bound = map[string]int{}
		t.titles = map[int]string{id: t.titles[id]}
	}
	if s.StoryKey != "" {
		t.bound[s.StoryKey] = id
	}
	for _, k := range s.Binds {
		t.bound[k] = id
	}
	s.Story, s.StoryTitle = id, t.titles[id]
}

func (t *Tracker) start(title string) int {
	t.next++
	t.titles[t.next] = title
	return t.next
}

// ownerKey is the story key of the step's owner: "ReplicaSet/echo-rs" → "ReplicaSet/ns/echo-rs".
func ownerKey(s *steps.Step) string {
	kind, name, _ := strings.Cut(s.Owner, "/")
	return steps.Key(kind, s.Namespace, name)
}

// orphanTitle names a story whose cause the dashboard did not see (it started later, or
// a controller acted on its own): by the object it is about.
func orphanTitle(s *steps.Step) string {
	kind, rest, _ := strings.Cut(s.StoryKey, "/")
	_, name, _ := strings.Cut(rest, "/")
	if kind == "" {
		kind, name = s.Kind, s.Name
	}
	return kind + "/" + name
}
