// Package examples holds the objects of the study notes (the seed), as YAML files:
// the dashboard offers them one click away and the tests apply them, so both use the
// same text. echo-pod-typo.yml is the notes' echo pod as printed, `apiVerison` included.
package examples

import (
	"embed"
	"fmt"

	"webkube/web/i18n"
)

//go:embed *.yml
var files embed.FS

// Example is one object file of the notes.
type Example struct {
	ID    string // file name without .yml
	Title string // i18n key (example.<id>): the button's text in the page's language
	YAML  string
}

// All lists the examples in the order the notes introduce them.
func All() []Example {
	out := make([]Example, 0, len(index))
	for _, e := range index {
		out = append(out, Example{ID: e.id, Title: e.title, YAML: Get(e.id)})
	}
	return out
}

// Get returns one example's YAML; it panics on an unknown id (a programming error).
func Get(id string) string {
	b, err := files.ReadFile(id + ".yml")
	if err != nil {
		panic(fmt.Sprintf("examples: no example %q", id))
	}
	return string(b)
}

var index = []struct{ id, title string }{
	{"echo-pod", i18n.K("example.echo-pod")},
	{"echo-pod-typo", i18n.K("example.echo-pod-typo")},
	{"probe-pod", i18n.K("example.probe-pod")},
	{"counter-pod", i18n.K("example.counter-pod")},
	{"echo-rs", i18n.K("example.echo-rs")},
	{"echo-rs-scaled", i18n.K("example.echo-rs-scaled")},
	{"echo-deployment", i18n.K("example.echo-deployment")},
	{"counter-service", i18n.K("example.counter-service")},
	{"secret-pod", i18n.K("example.secret-pod")},
	{"job-pi", i18n.K("example.job-pi")},
	{"cronjob-hello", i18n.K("example.cronjob-hello")},
	{"serviceaccount-pod", i18n.K("example.serviceaccount-pod")},
	{"web-statefulset", i18n.K("example.web-statefulset")},
	{"agent-daemonset", i18n.K("example.agent-daemonset")},
	{"quota-limits", i18n.K("example.quota-limits")},
	{"shop-ingress", i18n.K("example.shop-ingress")},
	{"busy-autoscale", i18n.K("example.busy-autoscale")},
	{"pdb-deployment", i18n.K("example.pdb-deployment")},
	{"data-claim", i18n.K("example.data-claim")},
	{"priority-pod", i18n.K("example.priority-pod")},
}
