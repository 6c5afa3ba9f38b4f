package controllers_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"webkube/cluster/controllers/clustertest"
	"webkube/internal/podstatus"
	"webkube/runtime/simnode"
)

const echoDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 3
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
`

func getDeploy(t *testing.T, c *clustertest.Cluster) *appsv1.Deployment {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments("default").Get(context.Background(), "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func deployDone(t *testing.T, c *clustertest.Cluster, image string) func() (bool, string) {
	return func() (bool, string) {
		d := getDeploy(t, c)
		st := d.Status
		ok := st.ObservedGeneration == d.Generation && st.UpdatedReplicas == 3 && st.Replicas == 3 &&
			st.AvailableReplicas == 3 && st.ReadyReplicas == 3 && st.UnavailableReplicas == 0 &&
			d.Spec.Template.Spec.Containers[0].Image == image
		ps := pods(t, c, "app=echo")
		for _, p := range ps {
			if p.Spec.Containers[0].Image != image {
				ok = false
			}
		}
		return ok && len(ps) == 3, fmt.Sprintf("status %+v, %d pods", st, len(ps))
	}
}

// readyWatcher tracks the number of ready, not-terminating pods and its minimum.
type readyWatcher struct {
	mu    sync.Mutex
	ready map[string]bool
	min   int
	armed bool
}

func watchReady(t *testing.T, c *clustertest.Cluster, selector string) *readyWatcher {
	rw := &readyWatcher{ready: map[string]bool{}, min: 1 << 30}
	w, err := c.Client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rw.mu.Lock()
			ready := ev.Type != watch.Deleted && p.DeletionTimestamp == nil && podstatus.Ready(p)
			if ready {
				rw.ready[p.Name] = true
			} else {
				delete(rw.ready, p.Name)
			}
			if rw.armed && len(rw.ready) < rw.min {
				rw.min = len(rw.ready)
			}
			rw.mu.Unlock()
		}
	}()
	return rw
}

func (rw *readyWatcher) arm() {
	rw.mu.Lock()
	rw.armed, rw.min = true, len(rw.ready)
	rw.mu.Unlock()
}

func (rw *readyWatcher) minimum() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.min
}

func rsByRevision(t *testing.T, c *clustertest.Cluster) map[string]string {
	l, err := c.Client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, rs := range l.Items {
		out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs.Name
	}
	return out
}

func TestDeploymentRollingUpdateHistoryUndo(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}, {Name: "node-2"}, {Name: "node-3"}}})
	rw := watchReady(t, c, "app=echo")
	c.MustKubectl(t, echoDeploy, "apply", "-f", "-")
	c.MustKubectl(t, "", "annotate", "deployment/echo", "kubernetes.io/change-cause=first echo")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v1"))
	out := c.MustKubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=20s")
	if !strings.Contains(out, `deployment "echo" successfully rolled out`) {
		t.Errorf("rollout status: %s", out)
	}
	first := rsByRevision(t, c)["1"]
	if !regexp.MustCompile(`^echo-[a-z0-9]{6,10}$`).MatchString(first) {
		t.Fatalf("revision 1 ReplicaSet %q (all %v)", first, rsByRevision(t, c))
	}

	// Roll to v2 and watch that availability never dips below 3.
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) {
		rw.mu.Lock()
		defer rw.mu.Unlock()
		return len(rw.ready) == 3, fmt.Sprintf("%d ready", len(rw.ready))
	})
	rw.arm()
	c.MustKubectl(t, "", "set", "image", "deployment/echo", "echo=ghcr.io/subicura/echo:v2")
	c.MustKubectl(t, "", "annotate", "--overwrite", "deployment/echo", "kubernetes.io/change-cause=to v2")
	out, err := c.Kubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=30s")
	if err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v2"))
	if m := rw.minimum(); m < 3 {
		t.Errorf("ready pods dropped to %d during a maxUnavailable=0 rollout", m)
	}
	revs := rsByRevision(t, c)
	if revs["1"] != first || revs["2"] == "" || revs["2"] == first {
		t.Fatalf("revisions after update: %v", revs)
	}
	hist := c.MustKubectl(t, "", "rollout", "history", "deployment/echo")
	if !regexp.MustCompile(`(?m)^1\s+first echo$`).MatchString(hist) || !regexp.MustCompile(`(?m)^2\s+to v2$`).MatchString(hist) {
		t.Errorf("rollout history:\n%s", hist)
	}
	events := c.MustKubectl(t, "", "describe", "deployment/echo")
	if n := strings.Count(events, "Scaled up replica set "+first+" "); n != 1 {
		t.Errorf("the old ReplicaSet was scaled up %d times (want only its first scale-up):\n%s", n, events)
	}
	for _, want := range []string{"ScalingReplicaSet", "Scaled up replica set " + revs["2"], "Scaled down replica set " + first,
		"NewReplicaSetAvailable", "MinimumReplicasAvailable"} {
		if !strings.Contains(events, want) {
			t.Errorf("describe lacks %q:\n%s", want, events)
		}
	}

	// Undo returns to the first template by reusing its ReplicaSet, which becomes revision 3.
	c.MustKubectl(t, "", "rollout", "undo", "deployment/echo")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v1"))
	revs = rsByRevision(t, c)
	if revs["3"] != first || revs["1"] != "" {
		t.Fatalf("after undo want %s as revision 3: %v", first, revs)
	}
	if d := getDeploy(t, c); d.Annotations["deployment.kubernetes.io/revision"] != "3" {
		t.Errorf("deployment revision %q", d.Annotations["deployment.kubernetes.io/revision"])
	}

	// --to-revision picks a specific one: revision 2 (v2) comes back as revision 4.
	second := revs["2"]
	c.MustKubectl(t, "", "rollout", "undo", "deployment/echo", "--to-revision=2")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v2"))
	revs = rsByRevision(t, c)
	if revs["4"] != second {
		t.Fatalf("after undo --to-revision=2 want %s as revision 4: %v", second, revs)
	}
	c.MustKubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=20s")
	hist = c.MustKubectl(t, "", "rollout", "history", "deployment/echo")
	if !regexp.MustCompile(`(?m)^3\s`).MatchString(hist) || !regexp.MustCompile(`(?m)^4\s`).MatchString(hist) {
		t.Errorf("rollout history after undos:\n%s", hist)
	}
}
