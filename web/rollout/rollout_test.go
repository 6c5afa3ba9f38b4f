package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

func deployYAML(name string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: echo
        image: ghcr.io/subicura/echo:v1
`, name)
}

func getDeploy(t *testing.T, c *clustertest.Cluster, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func listRS(t *testing.T, c *clustertest.Cluster) []*appsv1.ReplicaSet {
	t.Helper()
	l, err := c.Client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*appsv1.ReplicaSet, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

// waitRevision waits until the controller has given the Deployment revision rev and its
// new ReplicaSet exists.
func waitRevision(t *testing.T, c *clustertest.Cluster, name, rev string) {
	t.Helper()
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		d := getDeploy(t, c, name)
		v := Of(d, listRS(t, c))
		return d.Annotations[RevisionAnnotation] == rev && len(v.Sets) > 0 && v.Sets[0].New,
			fmt.Sprintf("%s at revision %q", name, d.Annotations[RevisionAnnotation])
	})
}

// same reports how two Deployments differ in what a rollback writes: the pod template
// and the annotations.
// The two differ only in their app label, which is their name.
func same(a, b *appsv1.Deployment) string {
	ta, tb := a.Spec.Template.DeepCopy(), b.Spec.Template.DeepCopy()
	if ta.Labels["app"] != a.Name || tb.Labels["app"] != b.Name {
		return fmt.Sprintf("app labels %v %v", ta.Labels, tb.Labels)
	}
	delete(ta.Labels, "app")
	delete(tb.Labels, "app")
	if !EqualIgnoreHash(ta, tb) {
		return fmt.Sprintf("templates differ:\n%s\n%s", templateYAML(ta), templateYAML(tb))
	}
	// kubectl apply's last-applied-configuration names each; both must keep theirs.
	aa, ab := map[string]string{}, map[string]string{}
	for k, v := range a.Annotations {
		aa[k] = strings.ReplaceAll(v, `"a"`, `"N"`)
	}
	for k, v := range b.Annotations {
		ab[k] = strings.ReplaceAll(v, `"b"`, `"N"`)
	}
	if fmt.Sprint(aa) != fmt.Sprint(ab) {
		return fmt.Sprintf("annotations differ:\n%v\n%v", a.Annotations, b.Annotations)
	}
	return ""
}

// Undo is measured against kubectl itself: two identical Deployments get the same
// history; kubectl rolls one back and Undo the other, and they must end the same, at the
// same revision, with the same refusals.
func TestUndoAsKubectl(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		c.MustKubectl(t, deployYAML(n), "apply", "-f", "-")
		c.MustKubectl(t, "", "annotate", "deployment/"+n, "kubernetes.io/change-cause=first")
		waitRevision(t, c, n, "1")
		c.MustKubectl(t, "", "set", "image", "deployment/"+n, "echo=ghcr.io/subicura/echo:v2")
		c.MustKubectl(t, "", "annotate", "--overwrite", "deployment/"+n, "kubernetes.io/change-cause=to v2")
		waitRevision(t, c, n, "2")
	}

	c.MustKubectl(t, "", "rollout", "undo", "deployment/a")
	out, err := Undo(ctx, c.Client, "default", "b", 0, "test")
	if err != nil || out.Revision != 1 || out.Skipped {
		t.Fatalf("Undo: %+v %v", out, err)
	}
	waitRevision(t, c, "a", "3")
	waitRevision(t, c, "b", "3")
	a, b := getDeploy(t, c, "a"), getDeploy(t, c, "b")
	if d := same(a, b); d != "" {
		t.Errorf("after undo: %s", d)
	}
	if img := b.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/subicura/echo:v1" || b.Annotations[ChangeCauseAnnotation] != "first" {
		t.Errorf("after undo b runs %s with change-cause %q", img, b.Annotations[ChangeCauseAnnotation])
	}
	if _, ok := b.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Errorf("pod-template-hash copied into the Deployment: %v", b.Spec.Template.Labels)
	}

	// The history now holds revisions 3 (v1, current) and 2 (v2), 1 having become 3.
	v := Of(b, listRS(t, c))
	var got []string
	for _, r := range v.Revisions {
		got = append(got, fmt.Sprintf("%d:%t:%s", r.Number, r.Current, r.ChangeCause))
	}
	if strings.Join(got, " ") != "3:true:first 2:false:to v2" {
		t.Errorf("history %v", got)
	}
	if d := v.Revisions[0].Diff; !strings.Contains(d, "- ") || !strings.Contains(d, "echo:v2") || !strings.Contains(d, "+ ") || !strings.Contains(d, "echo:v1") {
		t.Errorf("revision 3's diff against 2:\n%s", d)
	}

	// --to-revision=2 on both.
	c.MustKubectl(t, "", "rollout", "undo", "deployment/a", "--to-revision=2")
	if _, err := Undo(ctx, c.Client, "default", "b", 2, "test"); err != nil {
		t.Fatal(err)
	}
	waitRevision(t, c, "a", "4")
	waitRevision(t, c, "b", "4")
	if d := same(getDeploy(t, c, "a"), getDeploy(t, c, "b")); d != "" {
		t.Errorf("after --to-revision=2: %s", d)
	}

	// Refusals, as kubectl's.
	kout, _ := c.Kubectl(t, "", "rollout", "undo", "deployment/a", "--to-revision=4")
	if out, err := Undo(ctx, c.Client, "default", "b", 4, "test"); err != nil || !out.Skipped || !strings.Contains(kout, "skipped rollback") {
		t.Errorf("undo to the current revision: ours %+v %v; kubectl %q", out, err, kout)
	}
	kout, kerr := c.Kubectl(t, "", "rollout", "undo", "deployment/a", "--to-revision=99")
	if _, err := Undo(ctx, c.Client, "default", "b", 99, "test"); !errors.Is(err, ErrNoRevision) || kerr == nil {
		t.Errorf("undo to a missing revision: ours %v; kubectl %v %q", err, kerr, kout)
	}
	c.MustKubectl(t, "", "rollout", "pause", "deployment/a")
	if changed, err := SetPaused(ctx, c.Client, "default", "b", true, "test"); err != nil || !changed {
		t.Fatalf("pause: %v %v", changed, err)
	}
	if changed, err := SetPaused(ctx, c.Client, "default", "b", true, "test"); err != nil || changed {
		t.Errorf("pausing a paused Deployment: changed %v, %v", changed, err)
	}
	_, kerr = c.Kubectl(t, "", "rollout", "undo", "deployment/a")
	if _, err := Undo(ctx, c.Client, "default", "b", 0, "test"); !errors.Is(err, ErrPaused) || kerr == nil {
		t.Errorf("undo while paused: ours %v; kubectl %v", err, kerr)
	}
	if d := same(getDeploy(t, c, "a"), getDeploy(t, c, "b")); d != "" || !getDeploy(t, c, "b").Spec.Paused {
		t.Errorf("after pause: %s", d)
	}
	if changed, err := SetPaused(ctx, c.Client, "default", "b", false, "test"); err != nil || !changed || getDeploy(t, c, "b").Spec.Paused {
		t.Errorf("resume: %v %v", changed, err)
	}
}

// The bar's bounds are the controller's: maxSurge rounds up, maxUnavailable down, and
// both 0 makes maxUnavailable 1.
func TestFenceposts(t *testing.T) {
	pct := intstr.FromString
	for _, tc := range []struct {
		replicas              int32
		surge, unavail        *intstr.IntOrString
		recreate              bool
		wantSurge, wantUnavai int32
	}{
		{replicas: 4, wantSurge: 1, wantUnavai: 1},
		{replicas: 2, wantSurge: 1, wantUnavai: 0},
		{replicas: 10, wantSurge: 3, wantUnavai: 2},
		{replicas: 3, surge: ptr.To(intstr.FromInt32(0)), unavail: ptr.To(intstr.FromInt32(0)), wantSurge: 0, wantUnavai: 1},
		{replicas: 4, surge: ptr.To(pct("50%")), unavail: ptr.To(intstr.FromInt32(0)), wantSurge: 2, wantUnavai: 0},
		{replicas: 4, recreate: true},
	} {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(tc.replicas)}}
		if tc.recreate {
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		} else if tc.surge != nil {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: tc.surge, MaxUnavailable: tc.unavail}
		}
		v := Of(d, nil)
		if v.MaxSurge != tc.wantSurge || v.MaxUnavailable != tc.wantUnavai || v.MaxTotal != tc.replicas+tc.wantSurge ||
			v.MinAvailable != tc.replicas-tc.wantUnavai {
			t.Errorf("%+v: surge %d unavailable %d, total ≤ %d, available ≥ %d", tc, v.MaxSurge, v.MaxUnavailable, v.MaxTotal, v.MinAvailable)
		}
	}
}
