package clusterroleaggregation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/clusterroleaggregation"
	"webkube/internal/eventually"
)

// Against a real API server: the bootstrapped admin, edit and view get their rules from
// the system:aggregate-to-* roles (admin ⊇ edit ⊇ view), and a ClusterRole labelled to
// join view widens view, edit and admin until it is deleted.
func TestAggregatedDefaultRoles(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := clusterroleaggregation.New(clusterroleaggregation.Config{Client: cs})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	podsGet := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods",
		"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status", "endpoints",
		"persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"}}
	rolesRW := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"},
		APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}}
	// metrics-server's system:aggregated-metrics-reader (webkube serves metrics.k8s.io).
	metrics := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}}
	eventually.That(t, 10*time.Second, "view, edit and admin aggregated", func() (bool, string) {
		view, edit, admin := has(ctx, cs, "view", podsGet), has(ctx, cs, "edit", podsGet), has(ctx, cs, "admin", podsGet)
		adminRBAC, viewRBAC := has(ctx, cs, "admin", rolesRW), has(ctx, cs, "view", rolesRW)
		m := has(ctx, cs, "view", metrics) && has(ctx, cs, "edit", metrics) && has(ctx, cs, "admin", metrics)
		return view && edit && admin && adminRBAC && !viewRBAC && m, fmt.Sprint(view, edit, admin, adminRBAC, viewRBAC, m)
	})

	widgets := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	extra := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widget-viewer",
		Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}}, Rules: []rbacv1.PolicyRule{widgets}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, extra, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "view, edit and admin hold the widget rule", func() (bool, string) {
		v, e, a := has(ctx, cs, "view", widgets), has(ctx, cs, "edit", widgets), has(ctx, cs, "admin", widgets)
		return v && e && a, fmt.Sprint(v, e, a)
	})
	if err := cs.RbacV1().ClusterRoles().Delete(ctx, "widget-viewer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the widget rule gone again", func() (bool, string) {
		v, e, a := has(ctx, cs, "view", widgets), has(ctx, cs, "edit", widgets), has(ctx, cs, "admin", widgets)
		return !v && !e && !a, fmt.Sprint(v, e, a)
	})
}

func has(ctx context.Context, cs kubernetes.Interface, role string, want rbacv1.PolicyRule) bool {
	r, err := cs.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, x := range r.Rules {
		if fmt.Sprint(x) == fmt.Sprint(want) {
			return true
		}
	}
	return false
}
