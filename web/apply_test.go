package web

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// apiDash is a dashboard on a real API server (no scheduler or nodes).
func apiDash(t *testing.T) (*Dashboard, *apiservertest.Server) {
	t.Helper()
	api := apiservertest.Start(t)
	d, err := New(Config{Client: api.Clientset(), RESTConfig: api.RESTConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return d, api
}

func onlyResult(t *testing.T, res []DocResult) DocResult {
	t.Helper()
	if len(res) != 1 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	return res[0]
}

func TestApply(t *testing.T) {
	d, api := apiDash(t)
	ctx := context.Background()
	pods := api.Clientset().CoreV1().Pods("default")

	t.Run("DryRunCreatesNothing", func(t *testing.T) {
		r := onlyResult(t, mustApply(t, d, seedEchoPod, "dryrun"))
		if len(r.Errors) > 0 || r.Action != "would be created (dry run)" {
			t.Fatalf("dry run: %+v", r)
		}
		if _, err := pods.Get(ctx, "echo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry run created the pod (err %v)", err)
		}
	})
	t.Run("Create", func(t *testing.T) {
		r := onlyResult(t, mustApply(t, d, seedEchoPod, "apply"))
		if r.Action != "created" || r.Kind != "Pod" || r.Name != "echo" || r.Namespace != "default" {
			t.Fatalf("apply: %+v", r)
		}
		if _, err := pods.Get(ctx, "echo", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		r := onlyResult(t, mustApply(t, d, seedEchoPod, "apply"))
		if r.Action != "unchanged" {
			t.Errorf("re-apply: %+v", r)
		}
	})
	t.Run("DiffAgainstLive", func(t *testing.T) {
		changed := strings.Replace(seedEchoPod, "app: echo", "app: echo\n    tier: web", 1)
		r := onlyResult(t, mustApply(t, d, changed, "diff"))
		if !strings.Contains(r.Diff, "+     tier: web") || !strings.Contains(r.Action, "dry run") {
			t.Errorf("diff: %+v", r)
		}
		// A diff that shows changes is labelled as a change, never "unchanged".
		if r.Action != "would be configured (dry run)" {
			t.Errorf("diff with changes labelled %q", r.Action)
		}
		same := onlyResult(t, mustApply(t, d, seedEchoPod, "diff"))
		if same.Diff != "" || same.Action != "unchanged (dry run)" {
			t.Errorf("diff of the live object: %+v", same)
		}
		p, _ := pods.Get(ctx, "echo", metav1.GetOptions{})
		if p.Labels["tier"] != "" {
			t.Error("diff changed the live object")
		}
	})
	t.Run("ErrTypoAtLine", func(t *testing.T) {
		typo := strings.Replace(seedEchoPod, "apiVersion", "apiVerison", 1)
		r := onlyResult(t, mustApply(t, d, strings.Replace(typo, "name: echo", "name: echo2", 1), "apply"))
		if len(r.Errors) == 0 || r.Errors[0].Line != 2 || r.Errors[0].Field != "apiVerison" {
			t.Fatalf("typo: %+v", r)
		}
		if _, err := pods.Get(ctx, "echo2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused document created echo2 (err %v)", err)
		}
	})
	t.Run("ErrValidationCauseAtLine", func(t *testing.T) {
		bad := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n    - name: App_1\n      image: busybox\n"
		r := onlyResult(t, mustApply(t, d, bad, "apply"))
		if len(r.Errors) == 0 {
			t.Fatalf("no errors: %+v", r)
		}
		found := false
		for _, e := range r.Errors {
			if e.Line == 7 && strings.Contains(e.Field, "containers[0].name") {
				found = true
			}
		}
		if !found {
			t.Errorf("invalid name not placed at line 7: %+v", r.Errors)
		}
	})
	t.Run("ErrUnknownNestedFieldAtLine", func(t *testing.T) {
		bad := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad2\nspec:\n  containers:\n    - name: app\n      imagee: busybox\n"
		r := onlyResult(t, mustApply(t, d, bad, "apply"))
		if len(r.Errors) == 0 || r.Errors[0].Line != 8 {
			t.Errorf("unknown field: %+v", r)
		}
	})
	t.Run("ErrOneBadDocumentSendsNone", func(t *testing.T) {
		two := strings.Replace(seedEchoPod, "name: echo", "name: first", 1) + "---\nkind: Pod\nmetadata:\n  name: second\n"
		res := mustApply(t, d, two, "apply")
		if len(res) != 2 || len(res[1].Errors) == 0 || res[1].Errors[0].Line != 13 || !strings.HasPrefix(res[0].Action, "not sent") {
			t.Fatalf("results %+v", res)
		}
		if _, err := pods.Get(ctx, "first", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("first document applied although the second was bad (err %v)", err)
		}
	})
	t.Run("ErrSyntax", func(t *testing.T) {
		r := onlyResult(t, mustApply(t, d, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n", "apply"))
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "YAML syntax") {
			t.Errorf("syntax: %+v", r)
		}
	})
	t.Run("MultiDocument", func(t *testing.T) {
		var svc string
		for _, e := range Examples {
			if e.ID == "counter-service" {
				svc = e.YAML
			}
		}
		res := mustApply(t, d, svc, "apply")
		if len(res) != 2 || res[0].Action != "created" || res[1].Action != "created" || res[1].Kind != "Service" {
			t.Fatalf("results %+v", res)
		}
	})
}

func mustApply(t *testing.T, d *Dashboard, src, mode string) []DocResult {
	t.Helper()
	res, _ := d.applyYAML(context.Background(), []byte(src), mode)
	return res
}
