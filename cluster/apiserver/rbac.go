package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/watchcache"
)

// RBAC as kube-apiserver's authorizer (plugin/pkg/auth/authorizer/rbac): a request is
// allowed when a rule of a role bound to its user allows it — ClusterRoleBindings
// everywhere, RoleBindings in their namespace. system:masters is allowed everything
// without looking, as kube-apiserver's privileged-group authorizer.

var rbacV1 = rbacv1.SchemeGroupVersion

var rbacResources = []*resource{
	{gvr: rbacV1.WithResource("roles"), kind: "Role", singular: "role", namespaced: true,
		newObj: func() runtime.Object { return &rbacv1.Role{} }, newList: func() runtime.Object { return &rbacv1.RoleList{} }},
	{gvr: rbacV1.WithResource("clusterroles"), kind: "ClusterRole", singular: "clusterrole",
		newObj: func() runtime.Object { return &rbacv1.ClusterRole{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleList{} }},
	{gvr: rbacV1.WithResource("rolebindings"), kind: "RoleBinding", singular: "rolebinding", namespaced: true,
		newObj: func() runtime.Object { return &rbacv1.RoleBinding{} }, newList: func() runtime.Object { return &rbacv1.RoleBindingList{} }},
	{gvr: rbacV1.WithResource("clusterrolebindings"), kind: "ClusterRoleBinding", singular: "clusterrolebinding",
		newObj: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, newList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} }},
}

func rbacRes(name string) *resource {
	return resourceFor(schema.GroupResource{Group: rbacv1.GroupName, Resource: name})
}

type rbacAuthorizer struct{ s *Server }

func (a rbacAuthorizer) authorize(ctx context.Context, at attributes) (bool, string, error) {
	if at.user.inGroup(groupMasters) {
		return true, "", nil
	}
	var errs []error
	allowed, reason := false, ""
	a.s.visitRules(ctx, at.user, at.namespace, func(src string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return true
		}
		if ruleAllows(at, rule) {
			allowed, reason = true, "RBAC: allowed by "+src
			return false
		}
		return true
	})
	if allowed {
		return true, reason, nil
	}
	if len(errs) > 0 {
		return false, "RBAC: " + joinErrs(errs), nil
	}
	return false, "", nil
}

// joinErrs prints errors as utilerrors.NewAggregate does: one alone, more in brackets.
func joinErrs(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

// rulesFor lists the rules u has in namespace ("" = cluster-wide only), for
// SelfSubjectRulesReview (kubectl auth can-i --list).
func (a rbacAuthorizer) rulesFor(ctx context.Context, u *userInfo, namespace string) (authorizationv1.SubjectRulesReviewStatus, error) {
	rules, errs := a.s.userRules(ctx, u, namespace)
	st := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{},
	}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups,
			Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	if len(errs) > 0 {
		st.Incomplete, st.EvaluationError = true, joinErrs(errs)
	}
	return st, nil
}

// userRules is every rule bound to u in namespace, and what could not be resolved.
func (s *Server) userRules(ctx context.Context, u *userInfo, namespace string) ([]rbacv1.PolicyRule, []error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	s.visitRules(ctx, u, namespace, func(_ string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
		} else {
			rules = append(rules, *rule)
		}
		return true
	})
	return rules, errs
}

// visitRules calls visit with each rule that applies to u in namespace and the binding
// that grants it, until visit returns false; an unresolvable binding is an error.
func (s *Server) visitRules(ctx context.Context, u *userInfo, namespace string, visit func(src string, rule *rbacv1.PolicyRule, err error) bool) {
	crbs, err := s.rbacList(ctx, rbacRes("clusterrolebindings"), "")
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, o := range crbs {
		b := o.(*rbacv1.ClusterRoleBinding)
		subj := appliesTo(u, b.Subjects, "")
		if subj == nil {
			continue
		}
		src := fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subj, ""))
		if !s.visitRoleRef(ctx, "", b.RoleRef, src, visit) {
			return
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := s.rbacList(ctx, rbacRes("rolebindings"), namespace)
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, o := range rbs {
		b := o.(*rbacv1.RoleBinding)
		subj := appliesTo(u, b.Subjects, namespace)
		if subj == nil {
			continue
		}
		src := fmt.Sprintf("RoleBinding %q of %s %q to %s", b.Name+"/"+b.Namespace, b.RoleRef.Kind, b.RoleRef.Name, describeSubject(subj, b.Namespace))
		if !s.visitRoleRef(ctx, namespace, b.RoleRef, src, visit) {
			return
		}
	}
}

func (s *Server) visitRoleRef(ctx context.Context, namespace string, ref rbacv1.RoleRef, src string, visit func(string, *rbacv1.PolicyRule, error) bool) bool {
	rules, err := s.roleRefRules(ctx, namespace, ref)
	if err != nil {
		return visit(src, nil, err)
	}
	for i := range rules {
		if !visit(src, &rules[i], nil) {
			return false
		}
	}
	return true
}

// roleRefRules are the rules of the Role (in namespace) or ClusterRole a binding names.
func (s *Server) roleRefRules(ctx context.Context, namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		o, err := s.rbacGet(ctx, rbacRes("roles"), namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		return o.(*rbacv1.Role).Rules, nil
	case "ClusterRole":
		o, err := s.rbacGet(ctx, rbacRes("clusterroles"), "", ref.Name)
		if err != nil {
			return nil, err
		}
		return o.(*rbacv1.ClusterRole).Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// rbacList reads RBAC objects from the watch cache (the store while it loads), as
// kube-apiserver's authorizer reads its informers. Read-only.
func (s *Server) rbacList(ctx context.Context, r *resource, ns string) ([]runtime.Object, error) {
	res, err := s.cache.List(watchcache.ListOptions{Prefix: r.listPrefix(ns)})
	if errors.Is(err, watchcache.ErrNotReady) {
		objs, _, err := s.list(ctx, r, ns, selectors{label: labels.Everything(), field: fields.Everything()}, url.Values{})
		return objs, err
	}
	if err != nil {
		return nil, err
	}
	objs := make([]runtime.Object, len(res.Items))
	for i, o := range res.Items {
		objs[i] = o.Obj
	}
	return objs, nil
}

// rbacGet reads one RBAC object as rbacList does; not found is kube's lister error
// (`role.rbac.authorization.k8s.io "x" not found`).
func (s *Server) rbacGet(ctx context.Context, r *resource, ns, name string) (runtime.Object, error) {
	o, _, ok, err := s.cache.Get(r.key(ns, name))
	if errors.Is(err, watchcache.ErrNotReady) {
		obj, _, err := s.getObject(ctx, r, ns, name)
		if apierrors.IsNotFound(err) {
			ok, err = false, nil
		} else {
			return obj, err
		}
	} else if err != nil {
		return nil, err
	} else if ok {
		return o.Obj, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: r.singular}, name)
}

// appliesTo is the first subject that is u; a ServiceAccount subject without a
// namespace means the binding's.
func appliesTo(u *userInfo, subjects []rbacv1.Subject, bindingNS string) *rbacv1.Subject {
	for i := range subjects {
		s := &subjects[i]
		switch s.Kind {
		case rbacv1.UserKind:
			if u.Name == s.Name {
				return s
			}
		case rbacv1.GroupKind:
			if u.inGroup(s.Name) {
				return s
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			if ns != "" && u.Name == serviceAccountUser(ns, s.Name) {
				return s
			}
		}
	}
	return nil
}

func describeSubject(s *rbacv1.Subject, bindingNS string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// ruleAllows is kube's RuleAllows: verb, API group, resource (or resource/subresource, or
// */subresource) and resource name for resource requests; verb and URL (a trailing *
// matches a prefix) for the others.
func ruleAllows(a attributes, rule *rbacv1.PolicyRule) bool {
	if !hasOrStar(rule.Verbs, a.verb, rbacv1.VerbAll) {
		return false
	}
	if !a.resourceRequest {
		for _, u := range rule.NonResourceURLs {
			if u == rbacv1.NonResourceAll || u == a.path || (strings.HasSuffix(u, "*") && strings.HasPrefix(a.path, strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !hasOrStar(rule.APIGroups, a.group, rbacv1.APIGroupAll) || !resourceMatches(rule.Resources, a.resource, a.sub) {
		return false
	}
	return len(rule.ResourceNames) == 0 || hasOrStar(rule.ResourceNames, a.name, "")
}

func hasOrStar(set []string, v, star string) bool {
	for _, x := range set {
		if x == v || (star != "" && x == star) {
			return true
		}
	}
	return false
}

func resourceMatches(set []string, resource, sub string) bool {
	combined := resource
	if sub != "" {
		combined += "/" + sub
	}
	for _, r := range set {
		if r == rbacv1.ResourceAll || r == combined || (sub != "" && r == "*/"+sub) {
			return true
		}
	}
	return false
}
