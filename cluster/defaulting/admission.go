package defaulting

import (
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
)

// defaultPriorityClass: a class preempts lower priorities unless it says Never.
func defaultPriorityClass(pc *schedulingv1.PriorityClass) {
	if pc.PreemptionPolicy == nil {
		p := corev1.PreemptLowerPriority
		pc.PreemptionPolicy = &p
	}
}

// defaultLimitRange is kube's SetDefaults_LimitRangeItem for Container items: the
// default limit falls back to max, the default request to the default limit, then to min.
func defaultLimitRange(lr *corev1.LimitRange) {
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		if it.Type != corev1.LimitTypeContainer {
			continue
		}
		if it.Default == nil {
			it.Default = corev1.ResourceList{}
		}
		if it.DefaultRequest == nil {
			it.DefaultRequest = corev1.ResourceList{}
		}
		fill(it.Default, it.Max)
		fill(it.DefaultRequest, it.Default)
		fill(it.DefaultRequest, it.Min)
	}
}

// fill sets each of from's resources that to lacks.
func fill(to, from corev1.ResourceList) {
	for k, v := range from {
		if _, ok := to[k]; !ok {
			to[k] = v.DeepCopy()
		}
	}
}
