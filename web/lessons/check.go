package lessons

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"webkube/internal/podstatus"
)

// Helpers the checks share. They read the watched state only.

func pod(s State, name string) *corev1.Pod {
	for _, p := range s.Pods(Namespace) {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func running(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil || p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
		return false
	}
	return podstatus.Ready(p)
}

func gone(s State, name string) bool { return pod(s, name) == nil }

func rs(s State, name string) *appsv1.ReplicaSet {
	for _, r := range s.ReplicaSets(Namespace) {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func deploy(s State, name string) *appsv1.Deployment {
	for _, d := range s.Deployments(Namespace) {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// matching are the live (not deleting) pods whose labels match sel.
func matching(s State, sel map[string]string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range s.Pods(Namespace) {
		if p.DeletionTimestamp == nil && labels.SelectorFromSet(sel).Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func allRunning(ps []*corev1.Pod) bool {
	for _, p := range ps {
		if !running(p) {
			return false
		}
	}
	return true
}

// ownedBy says whether p's controller is the ReplicaSet r.
func ownedBy(p *corev1.Pod, r *appsv1.ReplicaSet) bool {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.UID == r.UID {
			return true
		}
	}
	return false
}

func controlled(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// rsSettled: the ReplicaSet exists, its status has caught up, and exactly want pods match,
// each owned by it and running.
func rsSettled(s State, name string, sel map[string]string, want int) bool {
	r := rs(s, name)
	if r == nil || r.Spec.Replicas == nil || int(*r.Spec.Replicas) != want || r.Status.ObservedGeneration < r.Generation {
		return false
	}
	ps := matching(s, sel)
	if len(ps) != want || int(r.Status.ReadyReplicas) != want || !allRunning(ps) {
		return false
	}
	for _, p := range ps {
		if !ownedBy(p, r) {
			return false
		}
	}
	return true
}

// orphan is a pod that has the tier label of the ReplicaSet's pods but lost its app label
// and was let go (no controller).
func orphan(s State, tier string) *corev1.Pod {
	for _, p := range s.Pods(Namespace) {
		if _, hasApp := p.Labels["app"]; !hasApp && p.Labels["tier"] == tier && p.DeletionTimestamp == nil && !controlled(p) {
			return p
		}
	}
	return nil
}
