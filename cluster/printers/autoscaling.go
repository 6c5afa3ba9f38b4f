package printers

import (
	"fmt"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

func hpaCells(h *autoscalingv2.HorizontalPodAutoscaler, now time.Time) []interface{} {
	ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	min := "<unset>"
	if h.Spec.MinReplicas != nil {
		min = fmt.Sprint(*h.Spec.MinReplicas)
	}
	return []interface{}{h.Name, ref, HPATargets(h.Spec.Metrics, h.Status.CurrentMetrics), min,
		int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), age(h.CreationTimestamp, now)}
}

// HPATargets is kubectl's TARGETS cell: "cpu: 180%/50%" for each metric, current
// "<unknown>" until the controller has measured it, the first two and "+ N more...".
func HPATargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	var list []string
	for i, spec := range specs {
		if len(list) == 2 {
			return fmt.Sprintf("%s + %d more...", strings.Join(list, ", "), len(specs)-2)
		}
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, metricTarget(spec, st))
	}
	return strings.Join(list, ", ")
}

func metricTarget(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	var name string
	var target autoscalingv2.MetricTarget
	var current *autoscalingv2.MetricValueStatus
	switch {
	case spec.Resource != nil:
		name, target = string(spec.Resource.Name), spec.Resource.Target
		if st != nil && st.Resource != nil {
			current = &st.Resource.Current
		}
	case spec.ContainerResource != nil:
		name, target = string(spec.ContainerResource.Name), spec.ContainerResource.Target
		if st != nil && st.ContainerResource != nil {
			current = &st.ContainerResource.Current
		}
	default:
		return customTarget(spec, st)
	}
	cur := "<unknown>"
	if target.AverageValue != nil {
		if current != nil && current.AverageValue != nil {
			cur = current.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, cur, target.AverageValue.String())
	}
	if current != nil && current.AverageUtilization != nil {
		cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, cur, want)
}

// customTarget is the cell of a Pods, Object or External metric: "current/target", with
// " (avg)" for an Object or External average value, as kube-apiserver prints it.
func customTarget(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	var target autoscalingv2.MetricTarget
	var current *autoscalingv2.MetricValueStatus
	switch {
	case spec.Pods != nil:
		target = spec.Pods.Target
		if st != nil && st.Pods != nil {
			current = &st.Pods.Current
		}
	case spec.Object != nil:
		target = spec.Object.Target
		if st != nil && st.Object != nil {
			current = &st.Object.Current
		}
	case spec.External != nil:
		target = spec.External.Target
		if st != nil && st.External != nil {
			current = &st.External.Current
		}
	default:
		return "<unknown>/<unknown>"
	}
	cur := "<unknown>"
	if target.AverageValue != nil {
		if current != nil && current.AverageValue != nil {
			cur = current.AverageValue.String()
		}
		if spec.Pods != nil {
			return cur + "/" + target.AverageValue.String()
		}
		return cur + "/" + target.AverageValue.String() + " (avg)"
	}
	if current != nil && current.Value != nil {
		cur = current.Value.String()
	}
	want := "<unknown>"
	if target.Value != nil {
		want = target.Value.String()
	}
	return cur + "/" + want
}
