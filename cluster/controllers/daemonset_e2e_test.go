package controllers_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

const agentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: NAME
spec:
  selector:
    matchLabels:
      app: NAME
  template:
    metadata:
      labels:
        app: NAME
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sleep", "3600"]
`

// nodesOf maps each live pod of the selector to its node: node -> pod names.
func nodesOf(t *testing.T, c *clustertest.Cluster, selector string) map[string][]string {
	out := map[string][]string{}
	for _, p := range pods(t, c, selector) {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p.Name)
		}
	}
	return out
}

func onNodes(t *testing.T, c *clustertest.Cluster, selector string, want ...string) {
	t.Helper()
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		got := nodesOf(t, c, selector)
		var names []string
		for n, ps := range got {
			if len(ps) != 1 || n == "" {
				return false, fmt.Sprintf("%v", got)
			}
			names = append(names, n)
		}
		sort.Strings(names)
		return strings.Join(names, ",") == strings.Join(want, ","), fmt.Sprintf("pods by node %v, want one on each of %v", got, want)
	})
}

// A DaemonSet across four simulated nodes, driven by kubectl: one pod per node that should
// run it — a cordoned node too (daemon pods tolerate the cordon), not a node with a
// NoSchedule taint the template does not tolerate; a nodeSelector with a toleration picks
// the labelled nodes, the tainted one included; labelling a node adds a pod, unlabelling
// removes it; kubectl's columns; a rolling update replaces one node at a time
// (maxUnavailable 1), with maxSurge the new pod starts before the old one goes; rollout
// status, history; deleting the DaemonSet deletes its pods.
func TestDaemonSetByKubectl(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{
		{Name: "node-1", Labels: map[string]string{"disk": "ssd"}},
		{Name: "node-2", Labels: map[string]string{"disk": "ssd"}, Taints: []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}},
		{Name: "node-3"},
		{Name: "node-4"},
	}})
	c.MustKubectl(t, "", "cordon", "node-4")
	agentLog := watchPods(t, c, "app=agent")
	c.MustKubectl(t, strings.ReplaceAll(agentDaemonSet, "NAME", "agent"), "apply", "-f", "-")
	onNodes(t, c, "app=agent", "node-1", "node-3", "node-4")

	ssd := strings.ReplaceAll(agentDaemonSet, "NAME", "ssd") + `      nodeSelector:
        disk: ssd
      tolerations:
      - key: dedicated
        operator: Equal
        value: db
        effect: NoSchedule
`
	c.MustKubectl(t, ssd, "apply", "-f", "-")
	onNodes(t, c, "app=ssd", "node-1", "node-2")
	c.MustKubectl(t, "", "label", "node", "node-3", "disk=ssd")
	onNodes(t, c, "app=ssd", "node-1", "node-2", "node-3")
	c.MustKubectl(t, "", "label", "node", "node-3", "disk-")
	onNodes(t, c, "app=ssd", "node-1", "node-2")

	out := c.MustKubectl(t, "", "rollout", "status", "ds/agent", "--timeout=60s")
	if !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status: %s", out)
	}
	got := c.MustKubectl(t, "", "get", "ds")
	if !strings.HasPrefix(got, "NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE") ||
		!hasRow(got, "agent", "3", "3", "3", "3", "3", "<none>") || !hasRow(got, "ssd", "2", "2", "2", "2", "2", "disk=ssd") {
		t.Fatalf("kubectl get ds:\n%s", got)
	}

	mark := len(agentLog.lines)
	c.MustKubectl(t, "", "set", "image", "ds/agent", "app=busybox:1.36")
	out = c.MustKubectl(t, "", "rollout", "status", "ds/agent", "--timeout=60s")
	if !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status: %s", out)
	}
	onNodes(t, c, "app=agent", "node-1", "node-3", "node-4")
	oneAtATime(t, agentLog, mark)
	for _, p := range pods(t, c, "app=agent") {
		if p.Spec.Containers[0].Image != "busybox:1.36" {
			t.Fatalf("%s still runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
	out = c.MustKubectl(t, "", "rollout", "history", "ds/agent")
	if !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Fatalf("rollout history:\n%s", out)
	}

	ssdLog := watchPods(t, c, "app=ssd")
	c.MustKubectl(t, "", "patch", "ds", "ssd", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}`)
	c.MustKubectl(t, "", "set", "image", "ds/ssd", "app=busybox:1.36")
	c.MustKubectl(t, "", "rollout", "status", "ds/ssd", "--timeout=60s")
	onNodes(t, c, "app=ssd", "node-1", "node-2")
	surgedFirst(t, ssdLog)

	c.MustKubectl(t, "", "delete", "ds", "agent", "ssd")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		ps := pods(t, c, "app in (agent,ssd)")
		return len(ps) == 0, fmt.Sprintf("%d pods left", len(ps))
	})
}

// oneAtATime: after mark, between two deletions a new pod became ready.
func oneAtATime(t *testing.T, l *podLog, mark int) {
	t.Helper()
	l.mu.Lock()
	lines := append([]string{}, l.lines[mark:]...)
	l.mu.Unlock()
	deleting := false
	for _, s := range lines {
		switch {
		case strings.HasPrefix(s, "-") && deleting:
			t.Fatalf("two old pods deleted with no new one ready between (maxUnavailable 1): %s", strings.Join(lines, ", "))
		case strings.HasPrefix(s, "-"):
			deleting = true
		case strings.HasPrefix(s, "ready "):
			deleting = false
		}
	}
}

// surgedFirst: each old pod was deleted only after a new pod was added and ready.
func surgedFirst(t *testing.T, l *podLog) {
	t.Helper()
	l.mu.Lock()
	lines := append([]string{}, l.lines...)
	l.mu.Unlock()
	added, readied, deleted := 0, 0, 0
	for _, s := range lines {
		switch {
		case strings.HasPrefix(s, "+"):
			added++
		case strings.HasPrefix(s, "ready "):
			readied++
		case strings.HasPrefix(s, "-"):
			deleted++
			if deleted > added || deleted > readied {
				t.Fatalf("an old pod went before its replacement was ready (maxSurge 1, maxUnavailable 0): %s", strings.Join(lines, ", "))
			}
		}
	}
	if deleted != 2 {
		t.Fatalf("want 2 old pods deleted: %s", strings.Join(lines, ", "))
	}
}
