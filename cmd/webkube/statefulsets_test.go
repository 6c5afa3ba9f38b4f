package main

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// TestStatefulSetDNSAndDaemonSet: on the real binary with two simulated nodes besides the
// real one, the notes' StatefulSet behind its headless Service runs real busybox pods whose
// hostname is their pod name, and from inside web-1 the cluster DNS answers
// web-0.web.default.svc.cluster.local (and the short web-0.web through the search path)
// with web-0's IP; a DaemonSet puts one pod on each of the three nodes, and one with a
// nodeSelector only on the labelled node.
func TestStatefulSetDNSAndDaemonSet(t *testing.T) {
	c := startCluster(t, "10.224.0.0/16", "wkst", "--simulated-nodes", "2")
	var node string
	c.eventually(30*time.Second, "three nodes", func() (bool, string) {
		out, _ := c.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
		names := strings.Fields(out)
		for _, n := range names {
			if !strings.HasPrefix(n, "sim-") {
				node = n
			}
		}
		return len(names) == 3 && node != "", out
	})
	c.apply(`apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeSelector:
        kubernetes.io/hostname: ` + node + `
      containers:
      - name: app
        image: busybox
        command: ["sleep", "3600"]
`)
	c.mustKubectl("rollout", "status", "sts/web", "--timeout=120s")
	if h := strings.TrimSpace(c.mustKubectl("exec", "web-0", "--", "hostname")); h != "web-0" {
		t.Fatalf("web-0's hostname is %q", h)
	}
	ip := c.jsonpath("pod/web-0", "{.status.podIP}")
	c.eventually(30*time.Second, "web-0.web resolves to web-0's IP", func() (bool, string) {
		out, err := c.kubectl("exec", "web-1", "--", "nslookup", "web-0.web.default.svc.cluster.local")
		got := nslookupAddrs(out)
		return err == nil && len(got) == 1 && got[0] == ip, out
	})
	// The short name through resolv.conf's search path, as an application would use it.
	out, _ := c.kubectl("exec", "web-1", "--", "ping", "-c", "1", "-W", "1", "web-0.web")
	if !strings.Contains(out, "("+ip+")") {
		t.Fatalf("ping web-0.web from web-1 did not resolve to %s:\n%s", ip, out)
	}

	c.mustKubectl("label", "node", "sim-2", "role=edge")
	c.apply(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sleep", "3600"]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: edge
spec:
  selector:
    matchLabels:
      app: edge
  template:
    metadata:
      labels:
        app: edge
    spec:
      nodeSelector:
        role: edge
      containers:
      - name: app
        image: busybox
        command: ["sleep", "3600"]
`)
	c.mustKubectl("rollout", "status", "ds/agent", "--timeout=120s")
	c.mustKubectl("rollout", "status", "ds/edge", "--timeout=120s")
	nodesOf := func(app string) string {
		f := strings.Fields(c.mustKubectl("get", "pods", "-l", "app="+app, "-o", "jsonpath={.items[*].spec.nodeName}"))
		sort.Strings(f)
		return strings.Join(f, ",")
	}
	want := []string{node, "sim-1", "sim-2"}
	sort.Strings(want)
	if got := nodesOf("agent"); got != strings.Join(want, ",") {
		t.Fatalf("agent pods on %s, want one on each of %v", got, want)
	}
	if got := nodesOf("edge"); got != "sim-2" {
		t.Fatalf("edge pods on %s, want sim-2", got)
	}
	c.mustKubectl("delete", "ds", "agent", "edge")
	c.mustKubectl("delete", "sts", "web")
	c.eventually(60*time.Second, "pods gone", func() (bool, string) {
		out, _ := c.kubectl("get", "pods", "-o", "name")
		return strings.TrimSpace(out) == "", out
	})
}
