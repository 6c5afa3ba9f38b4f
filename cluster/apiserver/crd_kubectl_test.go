package apiserver_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
)

// The documentation's CronTab CRD through the real kubectl: the CRD is established
// (kubectl wait), its kind is discovered, explained, created with defaults, printed
// with its printer columns, refused with kube's messages when invalid, scaled, watched
// and deleted with its CRD.
func TestKubectlCustomResources(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)

	k.ok(args("apply -f crontab-crd.yml"), "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created")
	k.ok(args("wait --for condition=established --timeout=10s crd/crontabs.stable.example.com"), "condition met")
	k.ok(args("get crd"), "NAME", "CREATED AT", "crontabs.stable.example.com")
	k.ok([]string{"get", "crd", "crontabs.stable.example.com", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"},
		"kubectl-client-side-apply")
	k.ok(args("api-resources --api-group=stable.example.com"), "crontabs", "ct", "stable.example.com/v1", "true", "CronTab")
	k.ok(args("explain crontab.spec"), "cronSpec", "The schedule, in cron format.", "replicas", "<integer>")

	k.ok(args("apply -f crontab.yml"), "crontab.stable.example.com/my-new-cron-object created")
	// Defaults from the schema; printer columns; the short name.
	k.ok([]string{"get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec.replicas} {.spec.size} {.metadata.generation}"}, "1 small 1")
	out := k.ok(args("get crontabs"), "NAME", "SPEC", "REPLICAS", "AGE", "my-new-cron-object", "* * * * */5")
	if !strings.Contains(strings.Split(out, "\n")[1], " 1 ") {
		t.Fatalf("REPLICAS column:\n%s", out)
	}
	// Applying again changes nothing; a changed field goes through a merge patch.
	k.ok(args("apply -f crontab.yml"), "unchanged")
	k.ok([]string{"patch", "ct", "my-new-cron-object", "--type=merge", "-p", `{"spec":{"image":"other"}}`}, "patched")
	k.ok([]string{"get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec.image} {.metadata.generation}"}, "other 2")

	// kube-apiserver's messages for a wrong type and for an unknown field.
	k.fail(args("apply -f crontab-bad.yml"),
		`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`)
	k.fail(args("apply -f crontab-unknown.yml"), `unknown field "spec.imgae"`)
	k.fail([]string{"patch", "ct", "my-new-cron-object", "--type=merge", "-p", `{"spec":{"replicas":11,"size":"medium"}}`},
		"spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
		`spec.size: Unsupported value: "medium": supported values: "small", "large"`)

	// The scale subresource.
	k.ok(args("scale crontab my-new-cron-object --replicas=3"), "crontab.stable.example.com/my-new-cron-object scaled")
	k.ok([]string{"get", "ct", "my-new-cron-object", "-o", "jsonpath={.spec.replicas}"}, "3")

	// Label and field selectors; a watch sees a new object.
	k.ok(args("get ct -l tier=batch -o name"), "crontab.stable.example.com/my-new-cron-object")
	k.ok(args("get ct --field-selector metadata.name=my-new-cron-object -o name"), "my-new-cron-object")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch := k.cmd(ctx, "get", "ct", "--watch", "-o", "name")
	pipe, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l := <-lines; !strings.Contains(l, "my-new-cron-object") {
		t.Fatalf("watch's first line: %q", l)
	}
	k.ok([]string{"patch", "ct", "my-new-cron-object", "--type=merge", "-p", `{"metadata":{"labels":{"seen":"yes"}}}`}, "patched")
	select {
	case l := <-lines:
		if !strings.Contains(l, "my-new-cron-object") {
			t.Fatalf("watch event: %q", l)
		}
	case <-ctx.Done():
		t.Fatal("watch saw no change")
	}
	cancel()
	_ = watch.Wait()

	// Deleting the CRD deletes its objects and stops serving its kind.
	k.ok(args("delete crd crontabs.stable.example.com"), "deleted")
	// (kubectl's discovery cache still knows the kind: the server's 404 is the answer.)
	k.fail(args("get crontabs"), "crontabs", "the server could not find the requested resource")
	eventually.True(t, 10*time.Second, "the CronTab's key gone from the store", func() bool {
		kvs, _, err := srv.Store.List(context.Background(), "/registry/customresources/", 0)
		return err == nil && len(kvs) == 0
	})
}

// A cluster-scoped CRD without printer columns keeps unknown fields where its schema
// says so; an invalid CRD is refused with kube's messages.
func TestKubectlCustomResourceDefinitionRules(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	k.ok(args("apply -f widget-crd.yml"), "created")
	k.ok(args("wait --for condition=established --timeout=10s crd/widgets.example.org"), "condition met")
	k.ok(args("apply -f widget.yml"), "widget.example.org/sprocket created")
	k.ok(args("get widgets"), "NAME", "AGE", "sprocket")
	k.ok([]string{"get", "widget", "sprocket", "-o", "jsonpath={.spec.anything.goes}"}, "[1,2,3]")

	k.fail(args("apply -f crd-bad.yml"),
		`metadata.name: Invalid value: "gadgets.wrong.example.org": must be spec.names.plural+"."+spec.group`,
		"spec.versions: Invalid value:", "must have exactly one version marked as storage version",
		"spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields")
}

// kubectl apply of a custom resource that breaks a CEL rule of its CRD shows kube's
// message for the rule.
func TestKubectlCustomResourceCELRule(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	k.ok(args("apply -f scaler-crd.yml"), "customresourcedefinition.apiextensions.k8s.io/scalers.cel.example.com created")
	k.ok(args("wait --for condition=established --timeout=10s crd/scalers.cel.example.com"), "condition met")
	k.fail(args("apply -f scaler-bad.yml"), `The Scaler "big" is invalid: spec.replicas: Invalid value: "integer": must be <= 10`)
}
