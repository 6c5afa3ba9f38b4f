package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// Recreate takes every old pod down before the new ReplicaSet gets any.
func TestDeploymentRecreate(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	manifest := strings.Replace(echoDeploy, `  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
`, "  strategy:\n    type: Recreate\n", 1)
	c.MustKubectl(t, manifest, "apply", "-f", "-")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v1"))
	// Record every pod seen with both images present at once.
	overlap := make(chan string, 100)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			images := map[string]bool{}
			l, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=echo"})
			if err != nil {
				continue
			}
			for _, p := range l.Items {
				images[p.Spec.Containers[0].Image] = true
			}
			if len(images) > 1 {
				overlap <- fmt.Sprint(images)
			}
		}
	}()
	c.MustKubectl(t, "", "set", "image", "deployment/echo", "echo=ghcr.io/subicura/echo:v2")
	c.MustKubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=30s")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v2"))
	close(stop)
	select {
	case o := <-overlap:
		t.Errorf("old and new pods at once during Recreate: %s", o)
	default:
	}
}

// Paused: template changes wait; scaling still works; resume rolls out.
// revisionHistoryLimit: only that many old ReplicaSets remain.
func TestDeploymentPausedAndHistoryLimit(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}, {Name: "node-2"}}})
	manifest := strings.Replace(echoDeploy, "  replicas: 3\n", "  replicas: 3\n  revisionHistoryLimit: 1\n", 1)
	c.MustKubectl(t, manifest, "apply", "-f", "-")
	clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v1"))

	c.MustKubectl(t, "", "rollout", "pause", "deployment/echo")
	c.MustKubectl(t, "", "set", "image", "deployment/echo", "echo=ghcr.io/subicura/echo:v2")
	c.MustKubectl(t, "", "scale", "deployment/echo", "--replicas=4")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		d := getDeploy(t, c)
		p := condition(d, appsv1.DeploymentProgressing)
		ps := pods(t, c, "app=echo")
		v2 := 0
		for _, p := range ps {
			if p.Spec.Containers[0].Image == "ghcr.io/subicura/echo:v2" {
				v2++
			}
		}
		return len(ps) == 4 && v2 == 0 && running(ps) == 4 && p != nil && p.Reason == "DeploymentPaused",
			fmt.Sprintf("%d pods (%d v2), progressing %+v", len(ps), v2, p)
	})
	c.MustKubectl(t, "", "rollout", "resume", "deployment/echo")
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		d := getDeploy(t, c)
		ps := pods(t, c, "app=echo")
		for _, p := range ps {
			if p.Spec.Containers[0].Image != "ghcr.io/subicura/echo:v2" {
				return false, "old pods remain"
			}
		}
		return len(ps) == 4 && d.Status.UpdatedReplicas == 4 && d.Status.AvailableReplicas == 4, fmt.Sprintf("%+v", d.Status)
	})
	c.MustKubectl(t, "", "set", "image", "deployment/echo", "echo=ghcr.io/subicura/echo:v3")
	c.MustKubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=30s")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		revs := rsByRevision(t, c)
		return len(revs) == 2 && revs["3"] != "" && revs["2"] != "", fmt.Sprintf("ReplicaSets by revision %v", revs)
	})
}

// A rollout whose pods cannot be scheduled stops progressing: after
// progressDeadlineSeconds the Deployment says ProgressDeadlineExceeded and
// `kubectl rollout status` fails saying so.
func TestDeploymentProgressDeadline(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1", CPU: "2"}}})
	manifest := strings.Replace(echoDeploy, "  replicas: 3\n", "  replicas: 1\n  progressDeadlineSeconds: 2\n", 1)
	c.MustKubectl(t, manifest, "apply", "-f", "-")
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		d := getDeploy(t, c)
		return d.Status.AvailableReplicas == 1, fmt.Sprintf("%+v", d.Status)
	})
	c.MustKubectl(t, "", "set", "resources", "deployment/echo", "--requests=cpu=8")
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		p := condition(getDeploy(t, c), appsv1.DeploymentProgressing)
		return p != nil && p.Reason == "ProgressDeadlineExceeded" && p.Status == corev1.ConditionFalse, fmt.Sprintf("%+v", p)
	})
	out, err := c.Kubectl(t, "", "rollout", "status", "deployment/echo", "--timeout=10s")
	if err == nil || !strings.Contains(out, "exceeded its progress deadline") {
		t.Errorf("rollout status: err %v\n%s", err, out)
	}
	// The old pod kept serving: maxUnavailable 0.
	if ps := pods(t, c, "app=echo"); running(ps) != 1 {
		t.Errorf("%d running pods", running(ps))
	}
}

// Step mode holds each controller action until Next.
func TestStepModeHoldsActions(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	c.Gate.SetStepMode(true)
	c.MustKubectl(t, echoRS, "apply", "-f", "-")
	waitStep := func(component, action string) {
		t.Helper()
		clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
			for _, s := range c.Gate.Waiting() {
				if s.Component == component && s.Action == action {
					return true, ""
				}
			}
			return false, fmt.Sprintf("waiting: %+v", c.Gate.Waiting())
		})
	}
	waitStep("replicaset-controller", "see-diff")
	if ps := pods(t, c, "app=echo"); len(ps) != 0 {
		t.Fatalf("pods created while held: %d", len(ps))
	}
	c.Gate.Next()
	waitStep("replicaset-controller", "create-pod")
	c.Gate.Next()
	waitStep("scheduler", "see-unassigned-pod")
	c.Gate.Next()
	waitStep("scheduler", "bind")
	if ps := pods(t, c, "app=echo"); len(ps) != 1 || ps[0].Spec.NodeName != "" {
		t.Fatalf("pods %+v", ps)
	}
	c.Gate.SetStepMode(false)
	clustertest.Eventually(t, 10*time.Second, rsReady(t, c, "echo-rs", 1))
}
