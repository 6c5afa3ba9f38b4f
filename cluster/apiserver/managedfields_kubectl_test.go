package apiserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// manifest writes a manifest to a file of the test's and returns its path.
func manifest(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const ssaDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
%s
spec:
  replicas: %s
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx
`

func ssaManifest(t *testing.T, extraLabels, replicas string) string {
	return manifest(t, "deploy.yaml", strings.Replace(strings.Replace(ssaDeploy, "%s\n", extraLabels, 1), "%s", replicas, 1))
}

// TestKubectlServerSideApply drives the real kubectl v1.32: two managers conflict,
// --force-conflicts wins, a field dropped from the manifest is removed, a status
// writer does not conflict with the user's spec, and managedFields show only with
// --show-managed-fields.
func TestKubectlServerSideApply(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	ctx := context.Background()
	deps := srv.Clientset().AppsV1().Deployments("default")

	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f", ssaManifest(t, "    tier: web\n", "2")},
		"deployment.apps/web serverside-applied")
	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f", ssaManifest(t, "    tier: web\n", "2")},
		"deployment.apps/web serverside-applied")
	k.fail([]string{"apply", "--server-side", "--field-manager=bob", "-f", ssaManifest(t, "", "5")},
		`Apply failed with 1 conflict: conflict with "alice": .spec.replicas`, "--force-conflicts")
	if d, _ := deps.Get(ctx, "web", metav1.GetOptions{}); *d.Spec.Replicas != 2 {
		t.Fatalf("a conflicting apply changed replicas to %d", *d.Spec.Replicas)
	}
	k.ok([]string{"apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", ssaManifest(t, "", "5")},
		"deployment.apps/web serverside-applied")
	d, err := deps.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 5 {
		t.Fatalf("forced apply: %v", err)
	}

	// alice drops the label tier (hers alone: removed) and replicas (now bob's: kept).
	noReplicas := strings.Replace(strings.Replace(ssaDeploy, "%s\n", "", 1), "  replicas: %s\n", "", 1)
	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f", manifest(t, "d.yaml", noReplicas)}, "serverside-applied")
	if d, _ = deps.Get(ctx, "web", metav1.GetOptions{}); d.Labels["tier"] != "" || d.Labels["app"] != "web" || *d.Spec.Replicas != 5 {
		t.Fatalf("after alice dropped fields: labels %v replicas %d", d.Labels, *d.Spec.Replicas)
	}

	// The deployment controller writes status; alice's next spec change applies cleanly.
	d.Status.Replicas, d.Status.ObservedGeneration = 5, d.Generation
	if _, err := deps.UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "kube-controller-manager"}); err != nil {
		t.Fatal(err)
	}
	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f",
		manifest(t, "d.yaml", strings.Replace(noReplicas, "spec:\n  selector:", "spec:\n  minReadySeconds: 3\n  selector:", 1))}, "serverside-applied")

	out := k.ok(args("get deploy web -o yaml --show-managed-fields"), "managedFields:", "manager: alice", "operation: Apply",
		"manager: bob", "manager: kube-controller-manager", "subresource: status", "f:replicas: {}", "fieldsType: FieldsV1")
	if strings.Contains(out, "f:tier") {
		t.Fatalf("managedFields still list the removed label:\n%s", out)
	}
	if out := k.ok(args("get deploy web -o yaml"), "minReadySeconds: 3"); strings.Contains(out, "managedFields") {
		t.Fatalf("kubectl shows managedFields by default:\n%s", out)
	}
}

// TestKubectlClientToServerSideApply: an object made with client-side apply moves to
// server-side apply (kubectl migrates kubectl-client-side-apply's fields to its own
// apply entry), and a key dropped from the manifest is then removed.
func TestKubectlClientToServerSideApply(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  a: \"1\"\n  b: \"2\"\n"
	k.ok([]string{"apply", "-f", manifest(t, "cm.yaml", cm)}, "configmap/conf created")
	k.ok(args("get cm conf -o yaml --show-managed-fields"), "manager: kubectl-client-side-apply", "operation: Update", "f:b: {}")

	k.ok([]string{"apply", "--server-side", "-f", manifest(t, "cm.yaml", strings.Replace(cm, "  b: \"2\"\n", "", 1))},
		"configmap/conf serverside-applied")
	got, err := srv.Clientset().CoreV1().ConfigMaps("default").Get(context.Background(), "conf", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "1" || got.Data["b"] != "" {
		t.Fatalf("after server-side apply: %v %v", err, got.Data)
	}
	if f, ok := entry(got, "kubectl", metav1.ManagedFieldsOperationApply, ""); !ok || !strings.Contains(f, "f:a") {
		t.Fatalf("kubectl's apply entry %q; managers %s", f, managerList(got))
	}
	if _, ok := entry(got, "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, ""); ok {
		t.Fatalf("the client-side apply entry was not migrated: %s", managerList(got))
	}
}

// TestKubectlServerSideApplyCustomResource: custom resources get managedFields and
// conflicts too (merged by their deduced structure).
func TestKubectlServerSideApplyCustomResource(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	applyCRD(t, srv, "crontab-crd.yml")
	cr := "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: cron\n  labels:\n    tier: batch\nspec:\n  cronSpec: \"* * * * */5\"\n  image: %s\n"
	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f", manifest(t, "cr.yaml", strings.Replace(cr, "%s", "img-a", 1))},
		"crontab.stable.example.com/cron serverside-applied")
	k.fail([]string{"apply", "--server-side", "--field-manager=bob", "-f", manifest(t, "cr.yaml", strings.Replace(cr, "%s", "img-b", 1))},
		`Apply failed with 1 conflict: conflict with "alice": .spec.image`)
	k.ok([]string{"apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f",
		manifest(t, "cr.yaml", strings.Replace(strings.Replace(cr, "%s", "img-b", 1), "  labels:\n    tier: batch\n", "", 1))},
		"serverside-applied")
	k.ok([]string{"apply", "--server-side", "--field-manager=alice", "-f",
		manifest(t, "cr.yaml", strings.Replace(strings.Replace(cr, "%s", "img-b", 1), "  labels:\n    tier: batch\n", "", 1))},
		"serverside-applied")
	out := k.ok(args("get crontab cron -o yaml --show-managed-fields"), "image: img-b", "manager: alice", "manager: bob", "operation: Apply")
	if strings.Contains(out, "tier: batch") {
		t.Fatalf("alice's dropped label is still there:\n%s", out)
	}
	k.ok(args("create -f crontab.yml"), "created")
	k.ok(args("get crontab my-new-cron-object -o yaml --show-managed-fields"), "manager: kubectl-create", "operation: Update", "f:cronSpec: {}")
}
