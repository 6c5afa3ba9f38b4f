package controllers_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
	"webkube/web/examples"
)

// syncBuffer is an io.Writer safe to read while kubectl writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// kubectl drain honours a PodDisruptionBudget: with the budget at its minimum, drain
// retries on the eviction API's 429; once the Deployment has a third pod elsewhere, the
// budget allows one disruption at a time and drain finishes, node-1 empty, the budget
// still met.
func TestDrainHonoursDisruptionBudget(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}, {Name: "node-2"}}})
	c.MustKubectl(t, "", "cordon", "node-2")
	yml := strings.Replace(examples.Get("pdb-deployment"), "minAvailable: 1", "minAvailable: 2", 1)
	c.MustKubectl(t, yml, "apply", "-f", "-")
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "pdb", "web")
		return strings.Contains(strings.Join(strings.Fields(out), " "), "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE web 2 N/A 0"), out
	})
	out := c.MustKubectl(t, "", "get", "pdb", "web", "-o", "jsonpath={.status.currentHealthy}/{.status.desiredHealthy}/{.status.expectedPods}/{.status.conditions[0].reason}")
	if out != "2/2/2/InsufficientPods" {
		t.Fatalf("status currentHealthy/desiredHealthy/expectedPods/reason: %s", out)
	}
	c.MustKubectl(t, "", "uncordon", "node-2")

	ctx, cancel := context.WithTimeout(c.Context(), 90*time.Second)
	defer cancel()
	drain := exec.CommandContext(ctx, "/usr/bin/kubectl", "--kubeconfig", c.API.KubeconfigPath, "drain", "node-1", "--ignore-daemonsets")
	var buf syncBuffer
	drain.Stdout, drain.Stderr = &buf, &buf
	if err := drain.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- drain.Wait() }()
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		s := buf.String()
		return strings.Contains(s, "Cannot evict pod as it would violate the pod's disruption budget.") && strings.Contains(s, "will retry after 5s"), s
	})
	out = c.MustKubectl(t, "", "get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-1", "-o", "name")
	if strings.Count(out, "pod/") != 2 {
		t.Fatalf("drain evicted past the budget; left on node-1:\n%s\ndrain said:\n%s", out, buf.String())
	}

	// A third pod on node-2 lets the budget spare one pod at a time.
	c.MustKubectl(t, "", "scale", "deployment", "web", "--replicas=3")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("drain: %v\n%s", err, buf.String())
		}
	case <-ctx.Done():
		t.Fatalf("drain did not finish:\n%s", buf.String())
	}
	if s := buf.String(); !strings.Contains(s, "evicted") || !strings.Contains(s, "node/node-1 drained") {
		t.Fatalf("drain output:\n%s", s)
	}
	out = c.MustKubectl(t, "", "get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-1", "-o", "name")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("pods left on node-1: %s", out)
	}
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "pdb", "web", "-o", "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}")
		return out == "3/1", out
	})
}
