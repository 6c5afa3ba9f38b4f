// Package examples holds the objects of the study notes (the seed), as YAML files:
// the dashboard offers them one click away and the tests apply them, so both use the
// same text. echo-pod-typo.yml is the notes' echo pod as printed, `apiVerison` included.
package examples

import (
	"embed"
	"fmt"
)

//go:embed *.yml
var files embed.FS

// Example is one object file of the notes.
type Example struct {
	ID    string // file name without .yml
	Title string
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
	{"echo-pod", "echo pod"},
	{"echo-pod-typo", "echo pod (seed, with its typo)"},
	{"probe-pod", "probe pod"},
	{"counter-pod", "counter pod (2 containers)"},
	{"echo-rs", "echo-rs"},
	{"echo-rs-scaled", "echo-rs scaled (4)"},
	{"echo-deployment", "Deployment"},
	{"counter-service", "Service (redis + counter)"},
	{"secret-pod", "Secret (as env and files)"},
	{"job-pi", "Job (3 completions, 2 at a time)"},
	{"cronjob-hello", "CronJob (every minute, Seoul time)"},
	{"serviceaccount-pod", "ServiceAccount (in-cluster client)"},
	{"web-statefulset", "StatefulSet (headless Service, a claim per pod)"},
	{"agent-daemonset", "DaemonSet (a pod per node)"},
	{"quota-limits", "ResourceQuota and LimitRange"},
	{"shop-ingress", "Ingress (two hosts and paths, two Services)"},
	{"busy-autoscale", "HorizontalPodAutoscaler (a busy loop scaled on CPU)"},
	{"pdb-deployment", "PodDisruptionBudget (drain one at a time)"},
	{"data-claim", "PersistentVolumeClaim (data that outlives its pod)"},
	{"priority-pod", "PriorityClass (a pod's priority)"},
}
