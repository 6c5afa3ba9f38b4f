package main

import (
	"strings"
	"testing"
	"time"
)

// TestTwoNodes: --nodes 2 gives two kubelets with their own bridges and subnets; the
// scheduler spreads a Deployment over both, and pods reach each other across nodes with
// their own source address.
func TestTwoNodes(t *testing.T) {
	c := startCluster(t, "10.247.0.0/16", "wkm", "--nodes", "2")
	c.eventually(30*time.Second, "two Ready nodes", func() (bool, string) {
		out, _ := c.kubectl("get", "nodes", "--no-headers")
		return strings.Count(out, " Ready ") == 2, out
	})
	c.mustKubectl("create", "deployment", "spread", "--image", "ghcr.io/subicura/echo:v1", "--replicas", "4")
	c.eventually(60*time.Second, "4 pods Running", func() (bool, string) {
		out, _ := c.kubectl("get", "pods", "-l", "app=spread", "--no-headers")
		return strings.Count(out, "Running") == 4, out
	})
	nodes := strings.Fields(c.jsonpath("pods", "{.items[*].spec.nodeName}"))
	ips := strings.Fields(c.jsonpath("pods", "{.items[*].status.podIP}"))
	names := strings.Fields(c.jsonpath("pods", "{.items[*].metadata.name}"))
	per := map[string]int{}
	for _, n := range nodes {
		per[n]++
	}
	if per["node-1"] != 2 || per["node-2"] != 2 {
		t.Fatalf("pods not spread over both nodes: %v", per)
	}
	for i, ip := range ips {
		want := "10.247.1."
		if nodes[i] == "node-2" {
			want = "10.247.2."
		}
		if !strings.HasPrefix(ip, want) {
			t.Fatalf("pod on %s has IP %s, not from its node's subnet %s0/24", nodes[i], ip, want)
		}
	}
	// From the first pod to every pod, across the bridges: the answer names the callee
	// and shows the caller's own pod IP (no NAT between nodes).
	for i, ip := range ips {
		out := c.mustKubectl("exec", names[0], "--", "wget", "-qO-", "http://"+ip+":3000/")
		if !strings.Contains(out, "Hostname: "+names[i]) || !strings.Contains(out, "Remote: "+ips[0]+":") {
			t.Fatalf("%s -> %s (%s): %s", names[0], names[i], ip, out)
		}
	}
}
