package defaulting

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// HPA defaults, as kube-apiserver's autoscaling/v2 defaults.go and the controller's.
const (
	DefaultCPUUtilization = int32(80)
	// DefaultScaleDownStabilization is the scale-down window (kube-controller-manager's
	// --horizontal-pod-autoscaler-downscale-stabilization, 5 min).
	DefaultScaleDownStabilization = int32(300)
)

// defaultHPA: minReplicas 1, an 80% CPU metric when none is given, and a behavior's
// missing rules and fields filled in (a missing behavior stays missing: the controller
// then uses the same default rules).
func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptr(int32(1))
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
				Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(DefaultCPUUtilization)}}}}
	}
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = ScaleUpRules(b.ScaleUp)
		b.ScaleDown = ScaleDownRules(b.ScaleDown)
	}
}

// ScaleUpRules fills r (may be nil) with the scale-up defaults: no stabilization, the most
// of 4 pods or 100% per 15 s.
func ScaleUpRules(r *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	def := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(0)), SelectPolicy: ptr(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		}}
	return fillRules(r, def)
}

// ScaleDownRules fills r (may be nil) with the scale-down defaults: a 300 s window, up to
// 100% per 15 s.
func ScaleDownRules(r *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	def := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(DefaultScaleDownStabilization),
		SelectPolicy: ptr(autoscalingv2.MaxChangePolicySelect),
		Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}}
	return fillRules(r, def)
}

func fillRules(r, def *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if r == nil {
		return def
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = def.StabilizationWindowSeconds
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = def.SelectPolicy
	}
	if len(r.Policies) == 0 {
		r.Policies = def.Policies
	}
	return r
}
