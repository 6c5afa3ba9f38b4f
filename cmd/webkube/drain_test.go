package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a writer the test reads while kubectl drain still writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestDrainWithDisruptionBudget on the real binary: two echo pods on node-1 under a
// budget of minAvailable 2; kubectl drain retries on the eviction API's 429 and evicts
// nothing, then, with a third pod running on node-2, evicts them one at a time and ends.
func TestDrainWithDisruptionBudget(t *testing.T) {
	c := startCluster(t, "10.222.0.0/16", "wkpd", "--nodes", "2")
	c.eventually(30*time.Second, "two Ready nodes", func() (bool, string) {
		out, _ := c.kubectl("get", "nodes", "--no-headers")
		return strings.Count(out, " Ready") == 2, out
	})
	c.mustKubectl("cordon", "node-2")
	c.mustKubectl("create", "deployment", "web", "--image", "ghcr.io/subicura/echo:v1", "--replicas", "2")
	c.mustKubectl("create", "pdb", "web", "--selector", "app=web", "--min-available", "2")
	c.eventually(60*time.Second, "the budget counts two healthy pods", func() (bool, string) {
		out, _ := c.kubectl("get", "pdb", "web", "-o", "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}")
		return out == "2/0", out
	})
	c.mustKubectl("uncordon", "node-2")

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	drain := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.kubeconfig, "drain", "node-1", "--ignore-daemonsets")
	var buf lockedBuffer
	drain.Stdout, drain.Stderr = &buf, &buf
	if err := drain.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- drain.Wait() }()
	c.eventually(30*time.Second, "drain retries on the budget", func() (bool, string) {
		s := buf.String()
		return strings.Contains(s, "Cannot evict pod as it would violate the pod's disruption budget.") && strings.Contains(s, "will retry after 5s"), s
	})
	if out := c.jsonpath("pods", "{.items[*].spec.nodeName}"); strings.Count(out, "node-1") != 2 {
		t.Fatalf("drain evicted past the budget: pods on %q\n%s", out, buf.String())
	}
	c.mustKubectl("scale", "deployment", "web", "--replicas", "3")
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
	if out := c.jsonpath("pods", "{.items[*].spec.nodeName}"); strings.Contains(out, "node-1") {
		t.Fatalf("pods still on node-1: %q", out)
	}
}
