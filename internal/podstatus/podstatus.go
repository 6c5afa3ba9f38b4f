// Package podstatus reads a pod's status conditions the way Kubernetes' own pod helpers
// (k8s.io/kubernetes/pkg/api/v1/pod) do: the first condition of a type decides.
// Controllers, the kubelet simulator and the web pages ask the same question, so they
// must agree on the answer.
package podstatus

import corev1 "k8s.io/api/core/v1"

// ReadyCondition is the pod's Ready condition, nil when the kubelet has not written one.
func ReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Ready reports whether the pod's Ready condition is True: its containers run and pass
// their readiness probes, so Services send it traffic and rollouts count it.
func Ready(p *corev1.Pod) bool {
	c := ReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}
