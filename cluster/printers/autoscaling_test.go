package printers

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TARGETS for Pods, Object and External metrics as kube-apiserver prints them: current or
// <unknown> (an empty status, where the controller could not read the metric), "/", the
// target, " (avg)" for an Object or External average value.
func TestHPATargetsCustomMetrics(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("1k")}}}
	object := autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: q("10k")}}}
	external := autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("30")}}}
	if got := HPATargets([]autoscalingv2.MetricSpec{pods, object}, []autoscalingv2.MetricStatus{{}, {}}); got != "<unknown>/1k, <unknown>/10k" {
		t.Errorf("unmeasured: %q", got)
	}
	st := []autoscalingv2.MetricStatus{
		{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("300")}}},
		{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{Current: autoscalingv2.MetricValueStatus{AverageValue: q("20")}}},
	}
	if got := HPATargets([]autoscalingv2.MetricSpec{pods, external}, st); got != "300/1k, 20/30 (avg)" {
		t.Errorf("measured: %q", got)
	}
}
