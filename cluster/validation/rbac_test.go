package validation

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RBAC objects get kube-apiserver's errors, field by field.
func TestRBACValidation(t *testing.T) {
	ns := metav1.ObjectMeta{Name: "r", Namespace: "default"}
	cl := metav1.ObjectMeta{Name: "system:r"}
	pods := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	for name, c := range map[string]struct {
		obj  runtime.Object
		want string // "" = valid
	}{
		"role":                         {&rbacv1.Role{ObjectMeta: ns, Rules: []rbacv1.PolicyRule{pods}}, ""},
		"cluster role (colon)":         {&rbacv1.ClusterRole{ObjectMeta: cl, Rules: []rbacv1.PolicyRule{pods, {Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}, ""},
		"no verbs":                     {&rbacv1.Role{ObjectMeta: ns, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}, "rules[0].verbs: Required value: verbs must contain at least one value"},
		"no groups":                    {&rbacv1.Role{ObjectMeta: ns, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}}}}, "rules[0].apiGroups: Required value: resource rules must supply at least one api group"},
		"namespaced URLs":              {&rbacv1.Role{ObjectMeta: ns, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/x"}}}}, `rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs`},
		"both":                         {&rbacv1.ClusterRole{ObjectMeta: cl, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}, NonResourceURLs: []string{"/x"}}}}, "rules cannot apply to both regular resources and non-resource URLs"},
		"empty aggregation":            {&rbacv1.ClusterRole{ObjectMeta: cl, AggregationRule: &rbacv1.AggregationRule{}}, "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"},
		"slash in name":                {&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "a/b", Namespace: "default"}}, `metadata.name: Invalid value: "a/b": may not contain '/'`},
		"binding":                      {&rbacv1.RoleBinding{ObjectMeta: ns, RoleRef: ref, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot"}}}, ""},
		"bad kind":                     {&rbacv1.RoleBinding{ObjectMeta: ns, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Pod", Name: "x"}}, `roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"`},
		"cluster binding to a Role":    {&rbacv1.ClusterRoleBinding{ObjectMeta: cl, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "x"}}, `roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`},
		"cluster SA without namespace": {&rbacv1.ClusterRoleBinding{ObjectMeta: cl, RoleRef: ref, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot"}}}, "subjects[0].namespace: Required value"},
		"user without group":           {&rbacv1.RoleBinding{ObjectMeta: ns, RoleRef: ref, Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}}}, `subjects[0].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`},
		"unknown subject kind":         {&rbacv1.RoleBinding{ObjectMeta: ns, RoleRef: ref, Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r"}}}, `subjects[0].kind: Unsupported value: "Robot"`},
	} {
		errs := ValidateCreate(c.obj)
		if got := errs.ToAggregate(); (got == nil) != (c.want == "") || (got != nil && !strings.Contains(got.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", name, got, c.want)
		}
	}
	old := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", ResourceVersion: "1"}, RoleRef: ref}
	changed := old.DeepCopy()
	changed.RoleRef.Name = "edit"
	if errs := ValidateUpdate(changed, old).ToAggregate(); errs == nil || !strings.Contains(errs.Error(), "roleRef: Invalid value") || !strings.Contains(errs.Error(), "cannot change roleRef") {
		t.Errorf("roleRef change: %v", errs)
	}
}
