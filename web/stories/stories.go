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
	titles map[int]title
}

// title is a story's title: the English, and its catalogue key and arguments when it has
// them (a learner's action), so each page can say it in its own language.
type title struct {
	text string
	key  string
	args []any
}

// maxBound caps the remembered objects; past it, old bindings are forgotten (a later step
// of a forgotten object starts its own story instead of joining an old one).
const maxBound = 20000

// New returns an empty Tracker.
func New() *Tracker { return &Tracker{bound: map[string]int{}, titles: map[int]title{}} }

// Assign sets s.Story and s.StoryTitle: a learner's action starts a new story; any other
// step joins the story of its object, else of its owner, else starts one of its own.
func (t *Tracker) Assign(s *steps.Step) {
	id := 0
	switch {
	case s.Root != "" && s.Root == s.Title:
		id = t.start(title{s.Root, s.TitleKey, s.TitleArgs})
	case s.Root != "":
		id = t.start(title{text: s.Root})
	case t.bound[s.StoryKey] != 0:
		id = t.bound[s.StoryKey]
	case s.Owner != "" && t.bound[ownerKey(s)] != 0:
		id = t.bound[ownerKey(s)]
	default:
		id = t.start(title{text: orphanTitle(s)})
	}
	if len(t.bound) > maxBound {
		t.bound = map[string]int{}
		t.titles = map[int]title{id: t.titles[id]}
	}
	if s.StoryKey != "" {
		t.bound[s.StoryKey] = id
	}
	for _, k := range s.Binds {
		t.bound[k] = id
	}
	tt := t.titles[id]
	s.Story, s.StoryTitle, s.StoryTitleKey, s.StoryTitleArgs = id, tt.text, tt.key, tt.args
}

func (t *Tracker) start(title title) int {
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
