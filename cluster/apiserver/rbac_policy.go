package apiserver

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The default roles and bindings kube-apiserver bootstraps (plugin/pkg/auth/authorizer/
// rbac/bootstrappolicy), for the resources webkube serves and those a learner's manifests
// name: cluster-admin for system:masters; admin, edit and view aggregated from the
// system:aggregate-to-* roles (and any ClusterRole labelled to join them); discovery,
// basic-user and public-info-viewer for everyone.

var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "delete", "deletecollection", "patch", "update"}
	readWrite = append(append([]string{}, read...), write...)
)

func rule(verbs []string, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

var (
	core      = []string{""}
	appsG     = []string{"apps"}
	batchG    = []string{"batch"}
	discG     = []string{"discovery.k8s.io"}
	rbacG     = []string{rbacv1.GroupName}
	authzG    = []string{"authorization.k8s.io"}
	authnG    = []string{"authentication.k8s.io"}
	autoscale = []string{"autoscaling"}
	netG      = []string{"networking.k8s.io"}
	policyG   = []string{"policy"}
	coordG    = []string{"coordination.k8s.io"}
	metricsG  = []string{"metrics.k8s.io"}
)

const (
	aggregateLabel = "rbac.authorization.k8s.io/aggregate-to-"
	autoupdate     = "rbac.authorization.kubernetes.io/autoupdate"
)

func aggregating(name string) *rbacv1.AggregationRule {
	return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{aggregateLabel + name: "true"}}}}
}

func defaultClusterRoles() []*rbacv1.ClusterRole {
	cr := func(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
	}
	to := func(role string) map[string]string { return map[string]string{aggregateLabel + role: "true"} }
	roles := []*rbacv1.ClusterRole{
		cr("cluster-admin", nil, rule([]string{"*"}, []string{"*"}, "*"), urls([]string{"*"}, "*")),
		cr("system:discovery", nil, urls([]string{"get"}, "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
			"/openapi", "/openapi/*", "/readyz", "/version", "/version/")),
		cr("system:basic-user", nil, rule([]string{"create"}, authnG, "selfsubjectreviews"),
			rule([]string{"create"}, authzG, "selfsubjectaccessreviews", "selfsubjectrulesreviews")),
		cr("system:public-info-viewer", nil, urls([]string{"get"}, "/healthz", "/livez", "/readyz", "/version", "/version/")),
		cr("system:monitoring", nil, urls([]string{"get"}, "/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/readyz", "/readyz/*")),
		cr("system:auth-delegator", nil, rule([]string{"create"}, authnG, "tokenreviews"), rule([]string{"create"}, authzG, "subjectaccessreviews")),
		cr("admin", nil), cr("edit", map[string]string{aggregateLabel + "admin": "true"}),
		cr("view", map[string]string{aggregateLabel + "edit": "true"}),
		cr("system:aggregate-to-admin", to("admin"),
			rule([]string{"create"}, authzG, "localsubjectaccessreviews"),
			rule(readWrite, rbacG, "roles", "rolebindings")),
		cr("system:aggregate-to-edit", to("edit"),
			rule(read, core, "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			rule([]string{"impersonate"}, core, "serviceaccounts"),
			rule(write, core, "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			rule([]string{"create"}, core, "pods/eviction"),
			rule(write, core, "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
				"services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
			rule([]string{"create"}, core, "serviceaccounts/token"),
			rule(write, appsG, "statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
				"deployments/rollback", "replicasets", "replicasets/scale"),
			rule(write, autoscale, "horizontalpodautoscalers"),
			rule(write, batchG, "jobs", "cronjobs"),
			rule(write, policyG, "poddisruptionbudgets"),
			rule(write, netG, "networkpolicies", "ingresses"),
			rule(readWrite, coordG, "leases")),
		cr("system:aggregate-to-view", to("view"),
			rule(read, core, "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
				"services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			rule(read, core, "limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
				"namespaces/status", "replicationcontrollers/status", "pods/log"),
			rule(read, core, "namespaces"),
			rule(read, discG, "endpointslices"),
			rule(read, appsG, "controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale", "daemonsets",
				"daemonsets/status", "deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/status",
				"replicasets/scale"),
			rule(read, autoscale, "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			rule(read, batchG, "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			rule(read, policyG, "poddisruptionbudgets", "poddisruptionbudgets/status"),
			rule(read, netG, "networkpolicies", "ingresses", "ingresses/status")),
		// Not kube-apiserver's but metrics-server's own (its manifest ships it): webkube
		// serves metrics.k8s.io in its place, so `kubectl top` works for view, edit and
		// admin as on a cluster with metrics-server. (kube bootstraps no events.k8s.io rule
		// into them either: view reads the core Events.)
		cr("system:aggregated-metrics-reader", map[string]string{aggregateLabel + "view": "true",
			aggregateLabel + "edit": "true", aggregateLabel + "admin": "true"},
			rule(read, metricsG, "pods", "nodes")),
	}
	// admin, edit and view are unions (the aggregation controller fills their rules in);
	// kube-apiserver labels edit to join admin and view to join edit.
	roles[6].AggregationRule, roles[7].AggregationRule, roles[8].AggregationRule = aggregating("admin"), aggregating("edit"), aggregating("view")
	for _, r := range roles {
		bootstrapMeta(&r.ObjectMeta)
	}
	return roles
}

func bootstrapMeta(m *metav1.ObjectMeta) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels["kubernetes.io/bootstrapping"] = "rbac-defaults"
	m.Annotations = map[string]string{autoupdate: "true"}
}

func defaultClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	b := func(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}, Subjects: subjects}
		bootstrapMeta(&crb.ObjectMeta)
		return crb
	}
	return []*rbacv1.ClusterRoleBinding{
		b("cluster-admin", group(groupMasters)),
		b("system:discovery", group(groupAuthenticated)),
		b("system:basic-user", group(groupAuthenticated)),
		b("system:public-info-viewer", group(groupAuthenticated), group("system:unauthenticated")),
		b("system:monitoring", group("system:monitoring")),
	}
}

// bootstrapRBAC creates the default roles and bindings that are missing and, as
// kube-apiserver's reconciliation, puts back the rules of those still marked
// autoupdate (an aggregated role's rules are the aggregation controller's).
func (s *Server) bootstrapRBAC(ctx context.Context) error {
	crRes, crbRes := rbacRes("clusterroles"), rbacRes("clusterrolebindings")
	for _, want := range defaultClusterRoles() {
		err := s.ensureDefault(ctx, crRes, want, func(cur runtime.Object) {
			if c := cur.(*rbacv1.ClusterRole); c.AggregationRule == nil {
				c.Rules = want.Rules
			}
		})
		if err != nil {
			return err
		}
	}
	for _, want := range defaultClusterRoleBindings() {
		if err := s.ensureDefault(ctx, crbRes, want, func(runtime.Object) {}); err != nil {
			return err
		}
	}
	return nil
}

// ensureDefault creates want, or lets fix bring an autoupdate object back to it.
func (s *Server) ensureDefault(ctx context.Context, r *resource, want runtime.Object, fix func(cur runtime.Object)) error {
	name := mustMeta(want).GetName()
	_, err := s.create(ctx, r, "", want, false)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = s.update(ctx, r, "", name, "", false, func(cur runtime.Object) (runtime.Object, error) {
		if mustMeta(cur).GetAnnotations()[autoupdate] == "true" {
			fix(cur)
		}
		return cur, nil
	})
	return err
}
