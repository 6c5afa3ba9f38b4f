package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

const echoRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: echo-rs
spec:
  replicas: 1
  selector:
    matchLabels:
      app: echo
      tier: app
  template:
    metadata:
      labels:
        app: echo
        tier: app
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
`

func pods(t *testing.T, c *clustertest.Cluster, selector string) []corev1.Pod {
	t.Helper()
	l, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return l.Items
}

func running(ps []corev1.Pod) int {
	n := 0
	for _, p := range ps {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// The seed's walkthrough: label removal releases a pod and a replacement appears; putting
// the label back makes the ReplicaSet adopt it and delete the surplus; deleting the
// ReplicaSet deletes its pods.
func TestReplicaSetSeedWalkthrough(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	out := c.MustKubectl(t, echoRS, "apply", "-f", "-")
	if !strings.Contains(out, "replicaset.apps/echo-rs created") {
		t.Fatalf("apply: %s", out)
	}
	var first corev1.Pod
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=echo,tier=app")
		if len(ps) != 1 || running(ps) != 1 {
			if len(ps) > 0 {
				return false, fmt.Sprintf("%d pods, %d running: node=%q phase=%q conds=%v", len(ps), running(ps), ps[0].Spec.NodeName, ps[0].Status.Phase, ps[0].Status.Conditions)
			}
			return false, "no pods"
		}
		first = ps[0]
		return true, ""
	})
	if !strings.HasPrefix(first.Name, "echo-rs-") || len(first.Name) != len("echo-rs-")+5 {
		t.Errorf("pod name %q, want echo-rs-xxxxx", first.Name)
	}
	if ref := metav1.GetControllerOf(&first); ref == nil || ref.Name != "echo-rs" || ref.Kind != "ReplicaSet" {
		t.Fatalf("pod controller ref = %+v", ref)
	}

	c.MustKubectl(t, "", "label", "pod/"+first.Name, "app-")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=echo,tier=app")
		if len(ps) != 1 || ps[0].Name == first.Name || running(ps) != 1 {
			return false, fmt.Sprintf("selected pods %d", len(ps))
		}
		p, err := c.Client.CoreV1().Pods("default").Get(context.Background(), first.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(p.OwnerReferences) != 0 {
			return false, fmt.Sprintf("released pod still has ownerReferences %v", p.OwnerReferences)
		}
		return true, ""
	})
	out = c.MustKubectl(t, "", "get", "pod", "--show-labels")
	if strings.Count(out, "echo-rs-") != 2 {
		t.Errorf("want two pods listed:\n%s", out)
	}

	c.MustKubectl(t, "", "label", "pod/"+first.Name, "app=echo")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=echo,tier=app")
		live := 0
		for _, p := range ps {
			if p.DeletionTimestamp == nil {
				live++
			}
		}
		return len(ps) == 1 && live == 1, fmt.Sprintf("%d pods (%d live)", len(ps), live)
	})
	ev := c.MustKubectl(t, "", "get", "events", "--field-selector", "involvedObject.name=echo-rs")
	for _, want := range []string{"SuccessfulCreate", "Created pod: echo-rs-", "SuccessfulDelete", "Deleted pod: echo-rs-"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}

	c.MustKubectl(t, "", "delete", "replicaset.apps/echo-rs")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ps := pods(t, c, "tier=app")
		return len(ps) == 0, fmt.Sprintf("%d pods left", len(ps))
	})
}

func rsReady(t *testing.T, c *clustertest.Cluster, name string, want int) func() (bool, string) {
	return func() (bool, string) {
		ps := pods(t, c, "app=echo,tier=app")
		live := 0
		for _, p := range ps {
			if p.DeletionTimestamp == nil {
				live++
			}
		}
		rs, err := c.Client.AppsV1().ReplicaSets("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := rs.Status
		ok := len(ps) == want && running(ps) == want && int(st.Replicas) == want && int(st.ReadyReplicas) == want &&
			int(st.AvailableReplicas) == want && int(st.FullyLabeledReplicas) == want && st.ObservedGeneration == rs.Generation
		return ok, fmt.Sprintf("want %d: pods %d (live %d, running %d), status %+v gen %d", want, len(ps), live, running(ps), st, rs.Generation)
	}
}

func TestReplicaSetScale(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}, {Name: "node-2"}}})
	c.MustKubectl(t, echoRS, "apply", "-f", "-")
	clustertest.Eventually(t, 10*time.Second, rsReady(t, c, "echo-rs", 1))
	for _, n := range []int{5, 0, 3} {
		c.MustKubectl(t, "", "scale", "replicaset/echo-rs", fmt.Sprintf("--replicas=%d", n))
		clustertest.Eventually(t, 10*time.Second, rsReady(t, c, "echo-rs", n))
	}
	out := c.MustKubectl(t, "", "get", "rs", "echo-rs")
	if !strings.Contains(out, "DESIRED") || !strings.Contains(out, "echo-rs   3         3         3") {
		t.Errorf("kubectl get rs:\n%s", out)
	}
}

// Fifty scale requests racing each other, with the controller reacting in between: the
// ReplicaSet settles on the last value and never holds more pods than asked at the end,
// and every pod it ever created has a distinct name.
func TestReplicaSetConcurrentScaleConverges(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}, {Name: "node-2"}}})
	c.MustKubectl(t, echoRS, "apply", "-f", "-")
	clustertest.Eventually(t, 10*time.Second, rsReady(t, c, "echo-rs", 1))
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]bool{}
	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "tier=app"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created := 0
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == "ADDED" {
				mu.Lock()
				if seen[p.Name] {
					t.Errorf("pod %s added twice", p.Name)
				}
				seen[p.Name] = true
				created++
				mu.Unlock()
			}
		}
	}()
	done := make(chan error, 50)
	for i := 0; i < 50; i++ {
		go func() {
			scale, err := c.Client.AppsV1().ReplicaSets("default").GetScale(ctx, "echo-rs", metav1.GetOptions{})
			if err != nil {
				done <- err
				return
			}
			scale.Spec.Replicas = int32(i%7 + 1)
			scale.ResourceVersion = "" // unconditional, like kubectl scale
			_, err = c.Client.AppsV1().ReplicaSets("default").UpdateScale(ctx, "echo-rs", scale, metav1.UpdateOptions{})
			done <- err
		}()
	}
	for i := 0; i < 50; i++ {
		if err := <-done; err != nil {
			t.Fatalf("scale: %v", err)
		}
	}
	// The last write wins; read what it was.
	rs, err := c.Client.AppsV1().ReplicaSets("default").Get(ctx, "echo-rs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	final := int(*rs.Spec.Replicas)
	clustertest.Eventually(t, 15*time.Second, rsReady(t, c, "echo-rs", final))
	// Stay converged: no late duplicate appears.
	time.Sleep(500 * time.Millisecond)
	if ok, msg := rsReady(t, c, "echo-rs", final)(); !ok {
		t.Fatalf("drifted after converging: %s", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("converged on %d replicas; %d pods created over the run", final, created)
}
