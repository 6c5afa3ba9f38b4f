package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

func podWithCPU(name, cpu string, selector map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: selector,
			Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}},
		},
	}
}

func nodeOf(t *testing.T, c *clustertest.Cluster, name string) string {
	p, err := c.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Spec.NodeName
}

func waitBound(t *testing.T, c *clustertest.Cluster, name string) string {
	t.Helper()
	var node string
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		node = nodeOf(t, c, name)
		return node != "", name + " not bound"
	})
	return node
}

// Three nodes of different sizes: each pod lands where its request fits; one that fits
// nowhere gets kube-scheduler's FailedScheduling message and is placed as soon as a node
// that fits registers.
func TestSchedulerFitsRequestsAndRetries(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{
		{Name: "small", CPU: "1", Memory: "2Gi", Labels: map[string]string{"size": "small"}},
		{Name: "medium", CPU: "2", Memory: "4Gi", Labels: map[string]string{"size": "medium"}},
		{Name: "large", CPU: "4", Memory: "8Gi", Labels: map[string]string{"size": "large"}},
	}})
	ctx := context.Background()
	create := func(p *corev1.Pod) {
		t.Helper()
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ pod, cpu, want string }{
		{"big", "3500m", "large"},
		{"mid", "1500m", "medium"},
		{"little", "800m", "small"},
	} {
		create(podWithCPU(tc.pod, tc.cpu, nil))
		if got := waitBound(t, c, tc.pod); got != tc.want {
			t.Errorf("%s (%s cpu) went to %s, want %s", tc.pod, tc.cpu, got, tc.want)
		}
	}
	out := c.MustKubectl(t, "", "describe", "pod", "big")
	if !strings.Contains(out, "Successfully assigned default/big to large") {
		t.Errorf("describe pod big lacks the Scheduled event:\n%s", out)
	}

	// 2 cpu, only on size=large nodes: large lacks cpu, the others don't match.
	create(podWithCPU("huge", "2", map[string]string{"size": "large"}))
	want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. " +
		"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "events", "--field-selector", "involvedObject.name=huge,reason=FailedScheduling", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, want), "events: " + out
	})
	p, err := c.Client.CoreV1().Pods("default").Get(ctx, "huge", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Status.Conditions) == 0 || p.Status.Conditions[0].Reason != "Unschedulable" || p.Status.Conditions[0].Message != want {
		t.Errorf("huge conditions %+v", p.Status.Conditions)
	}
	d, ok := c.Scheduler.Decision("default", "huge")
	if !ok || d.Chosen != "" || len(d.Nodes) != 3 {
		t.Fatalf("decision for huge: %+v", d)
	}
	for _, n := range d.Nodes {
		if n.Feasible || len(n.Reasons) == 0 {
			t.Errorf("node result %+v", n)
		}
	}

	c.AddNode(t, simnode.Config{Name: "large-2", CPU: "4", Memory: "8Gi", Labels: map[string]string{"size": "large"}})
	if got := waitBound(t, c, "huge"); got != "large-2" {
		t.Errorf("huge went to %s, want large-2", got)
	}
	d, _ = c.Scheduler.Decision("default", "huge")
	if d.Chosen != "large-2" || d.Message != "Successfully assigned default/huge to large-2" {
		t.Errorf("decision after node added: %+v", d)
	}

	// A cordoned node takes nothing new.
	c.MustKubectl(t, "", "cordon", "large-2")
	for i := range 4 {
		create(podWithCPU(fmt.Sprintf("tiny-%d", i), "100m", map[string]string{"size": "large"}))
	}
	for i := range 4 {
		if got := waitBound(t, c, fmt.Sprintf("tiny-%d", i)); got != "large" {
			t.Errorf("tiny-%d went to %s, want large (large-2 is cordoned)", i, got)
		}
	}
}

// Pods of one ReplicaSet spread over equal nodes.
func TestSchedulerSpreadsReplicas(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}})
	c.MustKubectl(t, `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`, "apply", "-f", "-")
	var perNode map[string]int
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		l, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		perNode = map[string]int{}
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning {
				perNode[p.Spec.NodeName]++
			}
		}
		return len(l.Items) == 6 && perNode["n1"]+perNode["n2"]+perNode["n3"] == 6, fmt.Sprint(perNode)
	})
	for _, n := range []string{"n1", "n2", "n3"} {
		if perNode[n] != 2 {
			t.Errorf("spread %v, want 2 per node", perNode)
		}
	}
}
