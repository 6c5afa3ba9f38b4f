package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// The docs' ReplicationController (concepts/workloads/controllers/replicationcontroller),
// without spec.selector: kube-apiserver defaults it, and the RC's labels, from the template.
const nginxRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: nginx
spec:
  replicas: 3
  template:
    metadata:
      name: nginx
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: ghcr.io/subicura/echo:v1
        ports:
        - containerPort: 80
`

// rcPods are the pods the RC owns (a controller reference to its UID), not terminating.
func rcPods(t *testing.T, c *clustertest.Cluster, rc *corev1.ReplicationController) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	for _, p := range pods(t, c, "app=nginx") {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rc.UID && ref.Kind == "ReplicationController" &&
			ref.APIVersion == "v1" && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// A ReplicationController through the real kubectl: created with the selector defaulted,
// its pods made by the replicaset controller behind the conversion, owned by the RC,
// scaled up and down with `kubectl scale rc`, shown with kube's columns, and its pods
// deleted with it by the garbage collector.
func TestReplicationControllerKubectl(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	ctx := context.Background()
	out := c.MustKubectl(t, "", "api-resources", "--api-group=")
	if !strings.Contains(out, "replicationcontrollers") || !strings.Contains(out, " rc ") {
		t.Fatalf("api-resources does not list replicationcontrollers (rc):\n%s", out)
	}
	out = c.MustKubectl(t, nginxRC, "apply", "-f", "-")
	if !strings.Contains(out, "replicationcontroller/nginx created") {
		t.Fatalf("apply: %s", out)
	}
	rc, err := c.Client.CoreV1().ReplicationControllers("default").Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Spec.Selector["app"] != "nginx" || rc.Labels["app"] != "nginx" || rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Fatalf("not defaulted as kube-apiserver does: selector %v, labels %v, restartPolicy %q", rc.Spec.Selector, rc.Labels, rc.Spec.Template.Spec.RestartPolicy)
	}
	waitRC := func(n int) {
		t.Helper()
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			ps := rcPods(t, c, rc)
			cur, err := c.Client.CoreV1().ReplicationControllers("default").Get(ctx, "nginx", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return len(ps) == n && running(ps) == n && cur.Status.Replicas == int32(n) && cur.Status.ReadyReplicas == int32(n),
				fmt.Sprintf("%d pods owned, %d running; status %+v", len(ps), running(ps), cur.Status)
		})
	}
	waitRC(3)
	for _, p := range rcPods(t, c, rc) {
		if !strings.HasPrefix(p.Name, "nginx-") {
			t.Fatalf("pod %q is not named after the RC", p.Name)
		}
	}
	out = c.MustKubectl(t, "", "get", "rc", "nginx", "-o", "wide")
	for _, w := range []string{"DESIRED", "CURRENT", "READY", "CONTAINERS", "IMAGES", "SELECTOR", "app=nginx", "ghcr.io/subicura/echo:v1"} {
		if !strings.Contains(out, w) {
			t.Fatalf("get rc -o wide lacks %q:\n%s", w, out)
		}
	}
	if f := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); f[1] != "3" || f[2] != "3" || f[3] != "3" {
		t.Fatalf("get rc row %v, want 3 3 3", f)
	}

	c.MustKubectl(t, "", "scale", "rc", "nginx", "--replicas=5")
	waitRC(5)
	c.MustKubectl(t, "", "scale", "--replicas=1", "rc/nginx")
	waitRC(1)

	// A pod the RC owns, deleted: the RC makes a replacement.
	victim := rcPods(t, c, rc)[0].Name
	c.MustKubectl(t, "", "delete", "pod", victim, "--wait=false")
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		ps := rcPods(t, c, rc)
		return len(ps) == 1 && ps[0].Name != victim && running(ps) == 1, fmt.Sprintf("%d pods", len(ps))
	})
	out = c.MustKubectl(t, "", "describe", "rc", "nginx")
	if !strings.Contains(out, "SuccessfulCreate") || !strings.Contains(out, "replication-controller") {
		t.Fatalf("describe rc shows no replication-controller events:\n%s", out)
	}

	// Validation with kube-apiserver's words.
	bad := strings.Replace(nginxRC, "name: nginx\nspec:", "name: bad\nspec:\n  selector: {app: other}", 1)
	if out, err := c.Kubectl(t, bad, "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.template.metadata.labels: Invalid value") ||
		!strings.Contains(out, "`selector` does not match template `labels`") {
		t.Fatalf("mismatched selector accepted or wrong message (%v):\n%s", err, out)
	}

	c.MustKubectl(t, "", "delete", "rc", "nginx")
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=nginx")
		return len(ps) == 0, fmt.Sprintf("%d pods left after deleting the RC", len(ps))
	})
}
