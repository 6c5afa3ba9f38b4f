package web

import (
	"webkube/web/examples"
	"webkube/web/templates"
)

// Examples are the seed's objects, one click away in the editor. The echo pod is given
// twice: fixed, and as the seed prints it, typo included, so the learner can see where
// the error lands.
var Examples = func() []templates.Example {
	var out []templates.Example
	for _, e := range examples.All() {
		out = append(out, templates.Example{ID: e.ID, Title: e.Title, YAML: e.YAML})
	}
	return out
}()
