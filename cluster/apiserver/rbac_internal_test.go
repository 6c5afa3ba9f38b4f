package apiserver

import (
	"net/http/httptest"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Request attributes read from URLs as kube-apiserver's RequestInfoFactory reads them.
func TestRequestAttributes(t *testing.T) {
	for _, c := range []struct {
		method, url                                string
		verb, group, resource, sub, ns, name, path string
		resourceRequest                            bool
	}{
		{"GET", "/api/v1/namespaces/default/pods", "list", "", "pods", "", "default", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", "watch", "", "pods", "", "default", "", "", true},
		{"GET", "/api/v1/watch/namespaces/default/pods", "watch", "", "pods", "", "default", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?watch=True", "watch", "", "pods", "", "default", "", "", true}, // the Python client
		{"GET", "/api/v1/namespaces/default/pods?watch=false", "list", "", "pods", "", "default", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb", "list", "", "pods", "", "default", "web", "", true},
		{"GET", "/api/v1/namespaces/default/pods/web/log", "get", "", "pods", "log", "default", "web", "", true},
		{"POST", "/api/v1/namespaces/default/pods/web/exec", "create", "", "pods", "exec", "default", "web", "", true},
		{"DELETE", "/apis/apps/v1/namespaces/team/deployments", "deletecollection", "apps", "deployments", "", "team", "", "", true},
		{"PATCH", "/apis/apps/v1/namespaces/team/deployments/web/scale", "patch", "apps", "deployments", "scale", "team", "web", "", true},
		{"GET", "/api/v1/nodes", "list", "", "nodes", "", "", "", "", true},
		{"PUT", "/api/v1/nodes/n1/status", "update", "", "nodes", "status", "", "n1", "", true},
		{"GET", "/api/v1/namespaces/team", "get", "", "namespaces", "", "team", "team", "", true},
		{"PUT", "/api/v1/namespaces/team/finalize", "update", "", "namespaces", "finalize", "team", "team", "", true},
		{"GET", "/apis/example.com/v1/namespaces/a/widgets/w", "get", "example.com", "widgets", "", "a", "w", "", true},
		{"GET", "/api", "get", "", "", "", "", "", "/api", false},
		{"GET", "/apis/apps/v1", "get", "", "", "", "", "", "/apis/apps/v1", false},
		{"GET", "/version", "get", "", "", "", "", "", "/version", false},
		{"POST", "/openapi/v3", "post", "", "", "", "", "", "/openapi/v3", false},
	} {
		a := requestAttributes(httptest.NewRequest(c.method, c.url, nil), adminUser)
		got := [...]any{a.verb, a.group, a.resource, a.sub, a.namespace, a.name, a.resourceRequest}
		want := [...]any{c.verb, c.group, c.resource, c.sub, c.ns, c.name, c.resourceRequest}
		if got != want || (!c.resourceRequest && a.path != c.path) {
			t.Errorf("%s %s: got %v (path %q), want %v", c.method, c.url, got, a.path, want)
		}
	}
}

// kube's RuleAllows: stars, resource/subresource and */subresource, resource names, URL prefixes.
func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) attributes {
		return attributes{verb: verb, resourceRequest: true, group: group, resource: resource, sub: sub, name: name}
	}
	url := func(verb, path string) attributes { return attributes{verb: verb, path: path} }
	podsRead := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	logs := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}
	anyStatus := rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}}
	named := rbacv1.PolicyRule{Verbs: []string{"get", "update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}}
	all := rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}
	api := rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api", "/apis/*"}}
	for _, c := range []struct {
		rule rbacv1.PolicyRule
		a    attributes
		want bool
	}{
		{podsRead, res("list", "", "pods", "", ""), true},
		{podsRead, res("get", "", "pods", "", "web"), true},
		{podsRead, res("delete", "", "pods", "", "web"), false},
		{podsRead, res("get", "apps", "pods", "", "web"), false},
		{podsRead, res("get", "", "pods", "log", "web"), false}, // a subresource is its own resource
		{logs, res("get", "", "pods", "log", "web"), true},
		{logs, res("get", "", "pods", "", "web"), false},
		{anyStatus, res("update", "apps", "deployments", "status", "d"), true},
		{anyStatus, res("update", "apps", "deployments", "", "d"), false},
		{named, res("get", "", "configmaps", "", "cfg"), true},
		{named, res("get", "", "configmaps", "", "other"), false},
		{named, res("list", "", "configmaps", "", ""), false}, // a list names nothing
		{all, res("escalate", "rbac.authorization.k8s.io", "clusterroles", "", "x"), true},
		{all, url("get", "/version"), false}, // resource rules say nothing about URLs
		{api, url("get", "/api"), true},
		{api, url("get", "/api/v1"), false},
		{api, url("get", "/apis/apps/v1"), true},
		{api, url("post", "/apis"), false},
		{api, res("get", "", "pods", "", ""), false},
	} {
		if got := ruleAllows(c.a, &c.rule); got != c.want {
			t.Errorf("%+v allows %+v: %v, want %v", c.rule, c.a, got, c.want)
		}
	}
}

// kube's Covers, with the message's compact form of what is missing.
func TestEscalationCovers(t *testing.T) {
	owner := []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods", "*/log"}},
		{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}},
		{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}},
	}
	for _, c := range []struct {
		rules []rbacv1.PolicyRule
		want  []string
	}{
		{[]rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}}, nil},
		{[]rbacv1.PolicyRule{{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}}}, nil},
		{[]rbacv1.PolicyRule{{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}},
			[]string{`{APIGroups:[""], Resources:["configmaps"], Verbs:["update"]}`}},
		{[]rbacv1.PolicyRule{{Verbs: []string{"get", "delete", "watch"}, APIGroups: []string{"", "apps"}, Resources: []string{"pods"}}},
			[]string{`{APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]}`, `{APIGroups:["apps"], Resources:["pods"], Verbs:["get" "delete" "watch"]}`}},
		{[]rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/apps", "/metrics"}}},
			[]string{`{NonResourceURLs:["/metrics"], Verbs:["get"]}`}},
		{fullAuthority, []string{`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`, `{NonResourceURLs:["*"], Verbs:["*"]}`}},
	} {
		var got []string
		for _, r := range compactRules(uncovered(owner, c.rules)) {
			got = append(got, compactString(r))
		}
		if len(got) != len(c.want) {
			t.Errorf("%v: missing %q, want %q", c.rules, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: missing %q, want %q", c.rules, got, c.want)
			}
		}
	}
}

// Bindings apply to users by name, groups by membership and service accounts by
// namespace (the binding's when the subject has none).
func TestAppliesTo(t *testing.T) {
	sa := &userInfo{Name: "system:serviceaccount:team:bot", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}}
	for _, c := range []struct {
		s    rbacv1.Subject
		ns   string
		want bool
	}{
		{rbacv1.Subject{Kind: "ServiceAccount", Name: "bot"}, "team", true},
		{rbacv1.Subject{Kind: "ServiceAccount", Name: "bot"}, "", false},
		{rbacv1.Subject{Kind: "ServiceAccount", Name: "bot", Namespace: "team"}, "other", true},
		{rbacv1.Subject{Kind: "ServiceAccount", Name: "bot", Namespace: "other"}, "other", false},
		{rbacv1.Subject{Kind: "Group", Name: "system:serviceaccounts:team"}, "", true},
		{rbacv1.Subject{Kind: "User", Name: "system:serviceaccount:team:bot"}, "", true},
		{rbacv1.Subject{Kind: "User", Name: "bot"}, "team", false},
	} {
		if got := appliesTo(sa, []rbacv1.Subject{c.s}, c.ns) != nil; got != c.want {
			t.Errorf("%+v in %q: %v, want %v", c.s, c.ns, got, c.want)
		}
	}
}
