package main

import (
	"strings"
	"testing"
	"time"

	"webkube/web/examples"
)

// The editor's PersistentVolumeClaim and PriorityClass examples do what their comments
// say, applied as a learner applies them: the claim is bound by the default class, a second
// pod of the claim prints the first one's line too, and the pod's priority is the class's.
func TestStorageAndPriorityExamples(t *testing.T) {
	c := startCluster(t, "10.226.0.0/16", "wkxs")
	c.apply(examples.Get("data-claim"))
	c.waitPod("writer", "1/1 Running", 90*time.Second)
	c.eventually(20*time.Second, "claim data Bound on the default class", func() (bool, string) {
		out, _ := c.kubectl("get", "pvc", "data")
		return strings.Contains(out, "Bound") && strings.Contains(out, "standard"), out
	})
	lines := func(want int) {
		t.Helper()
		c.eventually(20*time.Second, "writer's log", func() (bool, string) {
			out, _ := c.kubectl("logs", "writer")
			return strings.Count(out, "\n") == want, out
		})
	}
	lines(1)
	c.mustKubectl("delete", "pod", "writer", "--grace-period=1")
	c.apply(examples.Get("data-claim"))
	c.waitPod("writer", "1/1 Running", 90*time.Second)
	lines(2)

	c.apply(examples.Get("priority-pod"))
	c.waitPod("urgent", "1/1 Running", 90*time.Second)
	if p := c.jsonpath("pod/urgent", "{.spec.priority}"); p != "1000" {
		t.Errorf("pod urgent's priority %q, want the class's 1000", p)
	}
	c.mustKubectl("delete", "pod", "writer", "urgent", "--grace-period=1")
}
