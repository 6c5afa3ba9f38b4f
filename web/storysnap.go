package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"webkube/web/i18n"
	"webkube/web/steps"
	"webkube/web/templates"
)

// openSteps is how many of its newest steps the unfolded story comes with in a page's
// snapshot; the rest, and every folded story's steps, are fetched when opened.
const openSteps = 40

// wholeSteps is how many of those come with their bodies.
const wholeSteps = 8

// story is the ring's steps of one story, in order.
type story struct {
	id    int
	steps []steps.Step
}

// storiesOf groups steps (in the ring's order) by story, in the order the stories began,
// keeping the stories in which at least one step is mine.
func storiesOf(all []steps.Step, mine func(steps.Step) bool) []story {
	at := map[int]int{}
	var out []story
	keep := map[int]bool{}
	for _, s := range all {
		i, ok := at[s.Story]
		if !ok {
			i = len(out)
			at[s.Story] = i
			out = append(out, story{id: s.Story})
		}
		out[i].steps = append(out[i].steps, s)
		if mine(s) {
			keep[s.Story] = true
		}
	}
	kept := out[:0]
	for _, st := range out {
		if keep[st.id] {
			kept = append(kept, st)
		}
	}
	return kept
}

// mineOn says which steps an object page (obj is "kind/ns/name", ns "_" when cluster
// scoped) takes part in, as the page's script does for live steps: the object's own and
// its dependents' steps, or on a node's page the steps on that node. Other pages: all.
func mineOn(obj string) func(steps.Step) bool {
	parts := strings.SplitN(obj, "/", 3)
	if len(parts) != 3 {
		return func(steps.Step) bool { return true }
	}
	kind, ns, name := parts[0], parts[1], parts[2]
	if ns == "_" {
		ns = ""
	}
	if kind == "node" {
		return func(s steps.Step) bool { return s.Node == name }
	}
	return func(s steps.Step) bool {
		v := stepView(s)
		return strings.EqualFold(v.Obj, kind+"/"+ns+"/"+name) || strings.EqualFold(v.OwnerKey, kind+"/"+ns+"/"+name)
	}
}

// storiesHTML is the snapshot of the step list: one folded summary per story and the
// newest openSteps steps of the last story, which the page unfolds. Sending every step
// (even without bodies) was 275 KB after 200 steps.
func (d *Dashboard) storiesHTML(ctx context.Context, all []steps.Step, mine func(steps.Step) bool) string {
	var b strings.Builder
	ss := storiesOf(all, mine)
	for i, st := range ss {
		sum := templates.StorySummary{ID: st.id, Steps: len(st.steps), First: stepView(st.steps[0])}
		if i == len(ss)-1 {
			from := max(0, len(st.steps)-openSteps)
			for j, s := range st.steps[from:] {
				v := d.withDecision(s, stepView(s))
				// Bodies (diffs, decisions) only for the newest few: each is fetched when opened.
				v.Lazy = from+j < len(st.steps)-wholeSteps
				sum.Items = append(sum.Items, v)
			}
		}
		sum.More = len(sum.Items) < sum.Steps
		_ = templates.Story(sum).Render(ctx, &b)
	}
	return b.String()
}

// storySteps answers the steps of one story the page opens or replays, without their
// bodies (GET /ui/step/{seq} has each).
func (d *Dashboard) storySteps(c echo.Context) error {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "story number wanted")
	}
	d.mu.Lock()
	all := d.ring.All()
	d.mu.Unlock()
	var items []templates.StepView
	for _, s := range all {
		if s.Story == id {
			v := stepView(s)
			v.Lazy = true
			items = append(items, v)
		}
	}
	if len(items) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, i18n.T(c.Request().Context(), "anim.step_gone"))
	}
	return render(c, templates.StoryItems(items))
}
