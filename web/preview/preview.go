// Package preview tells a learner, before a relabel is applied, which ReplicaSets and
// Services gain or lose a pod and what their controllers will then do, using the same
// label selector semantics the controllers use.
package preview

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Effect is what happens to one selecting object when the pod's labels change.
type Effect struct {
	Kind   string `json:"kind"` // "ReplicaSet" or "Service"
	Name   string `json:"name"`
	Change string `json:"change"` // "gains", "loses", "keeps"
	Says   string `json:"says"`   // what its controller will do, in plain words
}

// Relabel computes the effects of changing pod's labels to newLabels, given the
// ReplicaSets, Services and pods of the pod's namespace (pods are needed to count
// how many each ReplicaSet will match afterwards).
func Relabel(pod *corev1.Pod, newLabels map[string]string, rss []*appsv1.ReplicaSet, svcs []*corev1.Service, pods []*corev1.Pod) []Effect {
	before := labels.Set(pod.Labels)
	after := labels.Set(newLabels)
	var out []Effect
	for _, rs := range rss {
		if rs.Namespace != pod.Namespace || rs.DeletionTimestamp != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		was, will := sel.Matches(before), sel.Matches(after)
		if !was && !will {
			continue
		}
		desired := int32(1)
		if rs.Spec.Replicas != nil {
			desired = *rs.Spec.Replicas
		}
		// Count the live pods the ReplicaSet would own after the change: those it
		// matches that are not owned by some other controller.
		matched := 0
		for _, p := range pods {
			if p.Namespace != rs.Namespace || p.DeletionTimestamp != nil || isDone(p) {
				continue
			}
			l := labels.Set(p.Labels)
			if p.UID == pod.UID && p.Name == pod.Name {
				l = after
			}
			if !sel.Matches(l) {
				continue
			}
			if ref := metav1.GetControllerOf(p); ref != nil && ref.UID != rs.UID {
				continue
			}
			matched++
		}
		e := Effect{Kind: "ReplicaSet", Name: rs.Name}
		ownedByOther := false
		if ref := metav1.GetControllerOf(pod); ref != nil && ref.UID != rs.UID {
			ownedByOther = true
		}
		switch {
		case was && !will:
			e.Change = "loses"
			if ref := metav1.GetControllerOf(pod); ref != nil && ref.UID == rs.UID {
				e.Says = fmt.Sprintf("releases %s (removes its ownerReference); ", pod.Name)
			}
			e.Says += counts(desired, matched)
		case !was && will:
			if ownedByOther {
				e.Change = "keeps"
				e.Says = fmt.Sprintf("matches %s but cannot adopt it: another controller owns it", pod.Name)
				break
			}
			e.Change = "gains"
			e.Says = fmt.Sprintf("adopts %s (adds its ownerReference); ", pod.Name) + counts(desired, matched)
		default:
			e.Change = "keeps"
			e.Says = "still selects " + pod.Name + "; nothing to do"
		}
		out = append(out, e)
	}
	for _, svc := range svcs {
		if svc.Namespace != pod.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		was, will := sel.Matches(before), sel.Matches(after)
		e := Effect{Kind: "Service", Name: svc.Name}
		switch {
		case was && !will:
			e.Change, e.Says = "loses", fmt.Sprintf("removes %s from its endpoints; it gets no more traffic", pod.Name)
		case !was && will:
			e.Change, e.Says = "gains", fmt.Sprintf("adds %s to its endpoints (once it is ready)", pod.Name)
		case was && will:
			e.Change, e.Says = "keeps", pod.Name+" stays an endpoint"
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

func counts(desired int32, matched int) string {
	switch {
	case int32(matched) < desired:
		n := int(desired) - matched
		return fmt.Sprintf("will match %d of %d desired, so it creates %d replacement pod%s", matched, desired, n, plural(n))
	case int32(matched) > desired:
		n := matched - int(desired)
		return fmt.Sprintf("will match %d but wants %d, so it deletes %d pod%s", matched, desired, n, plural(n))
	default:
		return fmt.Sprintf("will match %d of %d desired; nothing to create or delete", matched, desired)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func isDone(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
