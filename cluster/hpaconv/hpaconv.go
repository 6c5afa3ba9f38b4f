// Package hpaconv converts HorizontalPodAutoscalers between autoscaling/v1, the shape
// `kubectl autoscale` writes, and autoscaling/v2, the shape webkube stores. As in
// kube-apiserver, v1's one CPU target is v2's Resource cpu Utilization metric, and what
// v1 cannot express (other metrics, their current values, conditions, behavior) travels
// in annotations, so an object read as v1 and written back keeps it.
package hpaconv

import (
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// The annotations kube-apiserver keeps v2-only fields in on a v1 object.
const (
	MetricsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	CurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	ConditionsAnnotation     = "autoscaling.alpha.kubernetes.io/conditions"
	BehaviorAnnotation       = "autoscaling.alpha.kubernetes.io/behavior"
)

// ToV1 is h as autoscaling/v1. h is not changed.
func ToV1(h *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *h.ObjectMeta.DeepCopy()}
	out.APIVersion, out.Kind = autoscalingv1.SchemeGroupVersion.String(), "HorizontalPodAutoscaler"
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(h.Spec.ScaleTargetRef),
		MinReplicas:    copyInt32(h.Spec.MinReplicas), MaxReplicas: h.Spec.MaxReplicas,
	}
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: h.Status.ObservedGeneration, LastScaleTime: h.Status.LastScaleTime,
		CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas,
	}
	var other []autoscalingv1.MetricSpec
	for _, m := range h.Spec.Metrics {
		if isCPUUtilization(m) && out.Spec.TargetCPUUtilizationPercentage == nil {
			out.Spec.TargetCPUUtilizationPercentage = copyInt32(m.Resource.Target.AverageUtilization)
			continue
		}
		other = append(other, metricToV1(m))
	}
	var current []autoscalingv1.MetricStatus
	for _, m := range h.Status.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Current.AverageUtilization != nil && out.Status.CurrentCPUUtilizationPercentage == nil {
			out.Status.CurrentCPUUtilizationPercentage = copyInt32(m.Resource.Current.AverageUtilization)
			continue
		}
		current = append(current, statusToV1(m))
	}
	var conds []autoscalingv1.HorizontalPodAutoscalerCondition
	for _, c := range h.Status.Conditions {
		conds = append(conds, autoscalingv1.HorizontalPodAutoscalerCondition{
			Type: autoscalingv1.HorizontalPodAutoscalerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	for _, a := range []struct {
		key   string
		value any
		set   bool
	}{
		{MetricsAnnotation, other, len(other) > 0},
		{CurrentMetricsAnnotation, current, len(current) > 0},
		{ConditionsAnnotation, conds, len(conds) > 0},
		{BehaviorAnnotation, h.Spec.Behavior, h.Spec.Behavior != nil},
	} {
		if !a.set {
			continue
		}
		raw, err := json.Marshal(a.value)
		if err != nil {
			return nil, err
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[a.key] = string(raw)
	}
	return out, nil
}

// ToV2 is h as autoscaling/v2, the v2-only fields taken back from their annotations
// (which are then removed). h is not changed.
func ToV2(h *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *h.ObjectMeta.DeepCopy()}
	out.APIVersion, out.Kind = autoscalingv2.SchemeGroupVersion.String(), "HorizontalPodAutoscaler"
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(h.Spec.ScaleTargetRef),
		MinReplicas:    copyInt32(h.Spec.MinReplicas), MaxReplicas: h.Spec.MaxReplicas,
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: h.Status.ObservedGeneration, LastScaleTime: h.Status.LastScaleTime,
		CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas,
	}
	if p := h.Spec.TargetCPUUtilizationPercentage; p != nil {
		out.Spec.Metrics = append(out.Spec.Metrics, autoscalingv2.MetricSpec{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
				Type: autoscalingv2.UtilizationMetricType, AverageUtilization: copyInt32(p),
			}},
		})
	}
	var other []autoscalingv1.MetricSpec
	var current []autoscalingv1.MetricStatus
	var conds []autoscalingv1.HorizontalPodAutoscalerCondition
	for key, into := range map[string]any{MetricsAnnotation: &other, CurrentMetricsAnnotation: &current,
		ConditionsAnnotation: &conds, BehaviorAnnotation: &out.Spec.Behavior} {
		raw, ok := out.Annotations[key]
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(raw), into); err != nil {
			return nil, fmt.Errorf("metadata.annotations[%s]: %w", key, err)
		}
		delete(out.Annotations, key)
	}
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	for _, m := range other {
		out.Spec.Metrics = append(out.Spec.Metrics, metricToV2(m))
	}
	if p := h.Status.CurrentCPUUtilizationPercentage; p != nil {
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, autoscalingv2.MetricStatus{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: copyInt32(p)}},
		})
	}
	for _, m := range current {
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, statusToV2(m))
	}
	for _, c := range conds {
		out.Status.Conditions = append(out.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
			Type: autoscalingv2.HorizontalPodAutoscalerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return out, nil
}

func isCPUUtilization(m autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
		m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil
}

func copyInt32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
