package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// kubectl delete --cascade=orphan keeps the pods and strips their ownerReferences;
// --cascade=foreground deletes the pods before the ReplicaSet itself goes.
func TestGarbageCollectorOrphanAndForeground(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	ctx := context.Background()
	c.MustKubectl(t, echoRS, "apply", "-f", "-")
	c.MustKubectl(t, "", "scale", "rs/echo-rs", "--replicas=3")
	clustertest.Eventually(t, 10*time.Second, rsReady(t, c, "echo-rs", 3))

	c.MustKubectl(t, "", "delete", "rs/echo-rs", "--cascade=orphan")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := c.Client.AppsV1().ReplicaSets("default").Get(ctx, "echo-rs", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("rs still there: %v", err)
		}
		ps := pods(t, c, "app=echo")
		for _, p := range ps {
			if len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
				return false, fmt.Sprintf("pod %s refs %v deleting %v", p.Name, p.OwnerReferences, p.DeletionTimestamp)
			}
		}
		return len(ps) == 3, fmt.Sprintf("%d pods", len(ps))
	})

	// A new ReplicaSet adopts the three orphans and creates nothing.
	c.MustKubectl(t, echoRS, "apply", "-f", "-")
	c.MustKubectl(t, "", "scale", "rs/echo-rs", "--replicas=3")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=echo")
		owned := 0
		for _, p := range ps {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.Name == "echo-rs" {
				owned++
			}
		}
		return owned == 3 && len(ps) == 3, fmt.Sprintf("%d pods, %d adopted", len(ps), owned)
	})

	// kubectl waits for the ReplicaSet to be gone, and in the foreground it goes only
	// after its pods: when kubectl returns, nothing is left (no polling here).
	c.MustKubectl(t, "", "delete", "rs/echo-rs", "--cascade=foreground")
	_, err := c.Client.AppsV1().ReplicaSets("default").Get(ctx, "echo-rs", metav1.GetOptions{})
	if ps := pods(t, c, "app=echo"); !apierrors.IsNotFound(err) || len(ps) != 0 {
		t.Fatalf("kubectl delete --cascade=foreground returned with the rs (%v) and %d pods left", err, len(ps))
	}
}

// Deleting a Deployment removes its ReplicaSets and their pods, two levels down, in the
// background and in the foreground (where the Deployment itself goes last).
func TestGarbageCollectorDeploymentCascade(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	for _, cascade := range []string{"background", "foreground"} {
		c.MustKubectl(t, echoDeploy, "apply", "-f", "-")
		clustertest.Eventually(t, 15*time.Second, deployDone(t, c, "ghcr.io/subicura/echo:v1"))
		c.MustKubectl(t, "", "delete", "deployment/echo", "--cascade="+cascade)
		clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
			rs, err := c.Client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			ps := pods(t, c, "app=echo")
			_, derr := c.Client.AppsV1().Deployments("default").Get(context.Background(), "echo", metav1.GetOptions{})
			return len(rs.Items) == 0 && len(ps) == 0 && apierrors.IsNotFound(derr),
				fmt.Sprintf("%s: %d rs, %d pods, deployment %v", cascade, len(rs.Items), len(ps), derr)
		})
	}
}
