package quota

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Applies reports whether quota q counts obj (of gr): q limits something objects of gr
// use, and obj is in q's scopes (scopes only ever select pods).
func Applies(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object) bool {
	if len(Matching(gr, q.Spec.Hard)) == 0 {
		return false
	}
	var scopes []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		scopes = append(scopes, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		scopes = append(scopes, q.Spec.ScopeSelector.MatchExpressions...)
	}
	if len(scopes) == 0 {
		return true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, s := range scopes {
		if !inScope(pod, s) {
			return false
		}
	}
	return true
}

func inScope(pod *corev1.Pod, s corev1.ScopedResourceSelectorRequirement) bool {
	switch s.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
	case corev1.ResourceQuotaScopeNotTerminating:
		return pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds < 0
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod)
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod)
	case corev1.ResourceQuotaScopePriorityClass:
		name := pod.Spec.PriorityClassName
		switch s.Operator {
		case corev1.ScopeSelectorOpExists:
			return name != ""
		case corev1.ScopeSelectorOpDoesNotExist:
			return name == ""
		case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
			in := false
			for _, v := range s.Values {
				in = in || v == name
			}
			return in == (s.Operator == corev1.ScopeSelectorOpIn)
		}
	}
	return false
}

func bestEffort(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
				return false
			}
		}
	}
	return true
}

// Charge is kube's checkRequest for one quota: obj's constraints, the quota's status
// known for what obj touches, and used+requested within hard. It returns the quota's new
// used, or kube-apiserver's reason (the caller wraps it as `pods "x" is forbidden: ...`).
// A quota obj uses nothing of returns ok=false.
func Charge(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object, usage corev1.ResourceList) (used corev1.ResourceList, ok bool, err error) {
	if !Applies(q, gr, obj) {
		return nil, false, nil
	}
	restricted := Matching(gr, q.Status.Hard)
	if len(restricted) == 0 {
		restricted = Matching(gr, q.Spec.Hard)
	}
	if err := Constraints(restricted, obj); err != nil {
		return nil, false, fmt.Errorf("failed quota: %s: %w", q.Name, err)
	}
	for _, r := range restricted {
		_, inHard := q.Status.Hard[r]
		_, inUsed := q.Status.Used[r]
		if !inHard || !inUsed {
			return nil, false, fmt.Errorf("status unknown for quota: %s, resources: %s", q.Name, prettyNames(restricted))
		}
	}
	requested := Mask(nonZero(usage), Names(q.Status.Hard))
	if len(requested) == 0 {
		return nil, false, nil
	}
	newUsed := Add(q.Status.Used, requested)
	var exceeded []corev1.ResourceName
	for _, r := range Names(requested) {
		hard := q.Status.Hard[r]
		if n := newUsed[r]; n.Cmp(hard) > 0 {
			exceeded = append(exceeded, r)
		}
	}
	if len(exceeded) > 0 {
		return nil, false, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
			PrettyPrint(Mask(requested, exceeded)), PrettyPrint(Mask(q.Status.Used, exceeded)), PrettyPrint(Mask(q.Status.Hard, exceeded)))
	}
	return newUsed, true, nil
}

func nonZero(list corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n, q := range list {
		if !q.IsZero() {
			out[n] = q
		}
	}
	return out
}
