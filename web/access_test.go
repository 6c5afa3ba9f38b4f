package web

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// A user allowed to change pods only in namespace team, to read but not list Secrets:
// the page's access says delete:pod is denied with the reason and allowed in team,
// cordon is denied everywhere, logs are allowed; Start does not wait for the Secrets
// cache that can never sync, and the page says it is hidden.
func TestAccessFromSelfSubjectAccessReview(t *testing.T) {
	cs := fake.NewSimpleClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "team"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "other"}})
	asked := 0
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		asked++
		r := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview)
		ra := r.Spec.ResourceAttributes
		writes := ra.Verb != "get" && ra.Verb != "list" && ra.Verb != "watch"
		r.Status.Allowed = !writes || (ra.Namespace == "team" && ra.Resource == "pods")
		if !r.Status.Allowed {
			r.Status.Reason = "RBAC: no rule allows it"
		}
		return true, r, nil
	})
	cs.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "", nil)
	})
	d, err := New(Config{Client: cs, RESTConfig: &rest.Config{Host: "http://127.0.0.1:1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start with a forbidden Secrets list: %v", err)
	}
	if u := d.unwatchable(); len(u) != 1 {
		t.Errorf("unwatchable %q, want the Secrets refusal", u)
	}
	acc := d.accessFor(ctx)
	del, ok := acc.Deny["delete:pod"]
	if !ok || len(del.AllowedIn) != 1 || del.AllowedIn[0] != "team" || del.Reason == "" {
		t.Errorf("delete:pod denial %+v (found %v), want a reason and allowed in team only", del, ok)
	}
	if c, ok := acc.Deny["cordon"]; !ok || len(c.AllowedIn) != 0 {
		t.Errorf("cordon denial %+v (found %v), want denied everywhere", c, ok)
	}
	if _, ok := acc.Deny["logs"]; ok {
		t.Errorf("logs denied, want allowed")
	}
	if acc.Unknown {
		t.Errorf("access unknown with SelfSubjectAccessReview served")
	}
	n := asked
	d.accessFor(ctx)
	if asked != n {
		t.Errorf("a second page asked %d reviews again, want none within %v", asked-n, accessTTL)
	}
}

// An API server without SelfSubjectAccessReview (404): everything offered, and said so.
func TestAccessUnknownWithoutSelfSubjectAccessReview(t *testing.T) {
	cs := fake.NewSimpleClientset()
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(authzv1.Resource("selfsubjectaccessreviews"), "")
	})
	d, err := New(Config{Client: cs, RESTConfig: &rest.Config{Host: "http://127.0.0.1:1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	acc := d.accessFor(context.Background())
	if len(acc.Deny) != 0 || !acc.Unknown {
		t.Errorf("access %+v, want nothing denied and unknown", acc)
	}
}
