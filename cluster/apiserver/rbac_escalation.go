package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// RBAC's escalation check, as kube-apiserver's role and binding storage: nobody grants
// what they do not have. Writing a Role or ClusterRole needs every rule it holds (or the
// escalate verb on it); an aggregated ClusterRole can hold anything, so it needs
// everything. Writing a binding needs the rules of the role it names (or the bind verb on
// that role). The server's own writes (no user) and system:masters are not checked.

var fullAuthority = []rbacv1.PolicyRule{rule([]string{"*"}, []string{"*"}, "*"), urls([]string{"*"}, "*")}

func (s *Server) checkEscalation(ctx context.Context, r *resource, obj runtime.Object) error {
	u := requestUser(ctx)
	if u == nil || u.inGroup(groupMasters) || r.gvr.Group != rbacv1.GroupName {
		return nil
	}
	m := mustMeta(obj)
	ns, name := m.GetNamespace(), m.GetName()
	switch o := obj.(type) {
	case *rbacv1.Role:
		if s.may(ctx, u, "escalate", r.gvr.Resource, ns, name) {
			return nil
		}
		return s.confirmNoEscalation(ctx, u, r, ns, name, o.Rules)
	case *rbacv1.ClusterRole:
		if s.may(ctx, u, "escalate", r.gvr.Resource, "", name) {
			return nil
		}
		rules := o.Rules
		if o.AggregationRule != nil {
			rules = fullAuthority
		}
		return s.confirmNoEscalation(ctx, u, r, "", name, rules)
	case *rbacv1.RoleBinding:
		return s.checkBind(ctx, u, r, ns, name, o.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		return s.checkBind(ctx, u, r, "", name, o.RoleRef)
	}
	return nil
}

func (s *Server) checkBind(ctx context.Context, u *userInfo, r *resource, ns, name string, ref rbacv1.RoleRef) error {
	res := "roles"
	if ref.Kind == "ClusterRole" {
		res = "clusterroles"
	}
	if s.may(ctx, u, "bind", res, ns, ref.Name) {
		return nil
	}
	rules, err := s.roleRefRules(ctx, ns, ref)
	if err != nil {
		return apierrors.NewForbidden(r.gr(), name, err)
	}
	return s.confirmNoEscalation(ctx, u, r, ns, name, rules)
}

// may asks the authorizer whether u may verb an RBAC resource (escalate, bind).
func (s *Server) may(ctx context.Context, u *userInfo, verb, resource, ns, name string) bool {
	ok, _, _ := s.authz.authorize(ctx, attributes{user: u, verb: verb, resourceRequest: true, group: rbacv1.GroupName,
		version: "v1", resource: resource, namespace: ns, name: name})
	return ok
}

// confirmNoEscalation refuses rules u does not hold in ns, with kube-apiserver's message.
func (s *Server) confirmNoEscalation(ctx context.Context, u *userInfo, r *resource, ns, name string, rules []rbacv1.PolicyRule) error {
	owner, errs := s.userRules(ctx, u, ns)
	missing := uncovered(owner, rules)
	if len(missing) == 0 {
		return nil
	}
	descs := map[string]bool{}
	for _, m := range compactRules(missing) {
		descs[compactString(m)] = true
	}
	list := make([]string, 0, len(descs))
	for d := range descs {
		list = append(list, d)
	}
	sort.Strings(list)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.Name, u.Groups, strings.Join(list, "\n"))
	if len(errs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", errs)
	}
	return apierrors.NewForbidden(r.gr(), name, errors.New(msg))
}

// uncovered breaks rules into single verb × group × resource × name (or verb × URL)
// rules and returns those no owner rule covers, as kube's validation.Covers.
func uncovered(owner, rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var missing []rbacv1.PolicyRule
	for _, r := range rules {
		for _, sub := range breakdown(r) {
			covered := false
			for _, o := range owner {
				if ruleCovers(o, sub) {
					covered = true
					break
				}
			}
			if !covered {
				missing = append(missing, sub)
			}
		}
	}
	return missing
}

func breakdown(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if len(r.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}})
				}
				for _, n := range r.ResourceNames {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}, ResourceNames: []string{n}})
				}
			}
		}
	}
	for _, u := range r.NonResourceURLs {
		for _, v := range r.Verbs {
			out = append(out, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{v}})
		}
	}
	return out
}

// ruleCovers says whether owner (any size) covers sub (at most one of each).
func ruleCovers(owner, sub rbacv1.PolicyRule) bool {
	verbs := hasAll(owner.Verbs, sub.Verbs, rbacv1.VerbAll)
	groups := hasAll(owner.APIGroups, sub.APIGroups, rbacv1.APIGroupAll)
	resources := hasAll(owner.Resources, sub.Resources, rbacv1.ResourceAll)
	if !resources {
		resources = true
		for _, p := range sub.Resources {
			_, subres, ok := strings.Cut(p, "/")
			if !hasOrStar(owner.Resources, p, "") && !(ok && hasOrStar(owner.Resources, "*/"+subres, "")) {
				resources = false
			}
		}
	}
	names := len(owner.ResourceNames) == 0 || (len(sub.ResourceNames) > 0 && hasAll(owner.ResourceNames, sub.ResourceNames, ""))
	urls := true
	for _, p := range sub.NonResourceURLs {
		ok := false
		for _, o := range owner.NonResourceURLs {
			ok = ok || o == p || (strings.HasSuffix(o, "*") && strings.HasPrefix(p, strings.TrimSuffix(o, "*")))
		}
		urls = urls && ok
	}
	return verbs && groups && resources && names && urls
}

// hasAll: set holds star or every one of want.
func hasAll(set, want []string, star string) bool {
	if star != "" && hasOrStar(set, star, "") {
		return true
	}
	for _, w := range want {
		if !hasOrStar(set, w, "") {
			return false
		}
	}
	return true
}

// compactRules merges single-verb rules on the same group and resource (no names) into
// one rule with their verbs, as kube's CompactRules does for the message.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	at := map[[2]string]int{}
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1 {
			k := [2]string{r.APIGroups[0], r.Resources[0]}
			if i, ok := at[k]; ok {
				out[i].Verbs = append(out[i].Verbs, r.Verbs...)
				continue
			}
			at[k] = len(out)
		}
		r.Verbs = append([]string(nil), r.Verbs...)
		out = append(out, r)
	}
	return out
}

// compactString is kube's rbacv1helpers.CompactString: {APIGroups:[""], Resources:["pods"], Verbs:["delete"]}.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
