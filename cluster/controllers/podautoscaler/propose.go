package podautoscaler

import (
	"context"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// proposal is the largest replica count the metrics ask for, with what decided it.
type proposal struct {
	replicas int32
	source   string // "cpu resource utilization (percentage of request)"
	reason   string // the SuccessfulRescale event's reason when scaling up
	summary  string // for the step gate: "cpu 180% of 50% target"
	// the summary's parts, for the catalogue: "cpu", "180%", "50%"
	metric, current, target string
}

// propose computes each metric's proposal and takes the largest, as Kubernetes does; the
// measured figures go to h.Status.CurrentMetrics.
func (c *Controller) propose(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale, current int32) (proposal, error) {
	sel, err := labels.Parse(scale.Status.Selector)
	if err != nil || sel.Empty() {
		return proposal{}, fmt.Errorf("the target's selector %q selects no pods", scale.Status.Selector)
	}
	pods, err := c.pods.Pods(h.Namespace).List(sel)
	if err != nil {
		return proposal{}, err
	}
	if len(pods) == 0 {
		return proposal{}, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	usage, err := c.cfg.Metrics.PodUsage(ctx, h.Namespace, sel)
	if err != nil {
		return proposal{}, err
	}
	var best proposal
	var statuses []autoscalingv2.MetricStatus
	for _, m := range h.Spec.Metrics {
		p, st, err := c.proposeOne(m, pods, usage, current)
		if err != nil {
			return proposal{}, err
		}
		statuses = append(statuses, st)
		if best.source == "" || p.replicas > best.replicas {
			best = p
		}
	}
	h.Status.CurrentMetrics = statuses
	return best, nil
}

// proposeOne is one Resource or ContainerResource metric's proposal and status.
func (c *Controller) proposeOne(m autoscalingv2.MetricSpec, pods []*corev1.Pod, usage map[string]PodUsage, current int32) (proposal, autoscalingv2.MetricStatus, error) {
	var name corev1.ResourceName
	var target autoscalingv2.MetricTarget
	container := ""
	switch {
	case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
		name, target = m.Resource.Name, m.Resource.Target
	case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil:
		name, target, container = m.ContainerResource.Name, m.ContainerResource.Target, m.ContainerResource.Container
	default:
		return proposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("webkube's HPA controller reads Resource and ContainerResource metrics only, not %s", m.Type)
	}
	rp := resourceProposal{current: current, tolerance: c.cfg.Tolerance}
	utilization := target.AverageValue == nil
	if utilization {
		rp.targetUtilization = *target.AverageUtilization
	} else {
		rp.targetAverage = target.AverageValue.MilliValue()
	}
	if err := c.sample(&rp, pods, usage, name, container); err != nil {
		return proposal{}, autoscalingv2.MetricStatus{}, err
	}
	replicas, cur, err := rp.replicas()
	if err != nil {
		return proposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get %s utilization: %w", name, err)
	}
	var avg int64
	for _, s := range rp.samples {
		avg += s.usage
	}
	avg /= int64(len(rp.samples))
	value := autoscalingv2.MetricValueStatus{AverageValue: quantity(avg, name)}
	p := proposal{replicas: replicas, metric: string(name)}
	if utilization {
		u := int32(cur)
		value.AverageUtilization = &u
		p.current, p.target = fmt.Sprintf("%d%%", u), fmt.Sprintf("%d%%", rp.targetUtilization)
	} else {
		p.current, p.target = value.AverageValue.String(), target.AverageValue.String()
	}
	p.summary = fmt.Sprintf("%s %s of %s target", name, p.current, p.target)
	st := autoscalingv2.MetricStatus{Type: m.Type}
	if container == "" {
		st.Resource = &autoscalingv2.ResourceMetricStatus{Name: name, Current: value}
	} else {
		st.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{Name: name, Container: container, Current: value}
	}
	p.source = describe(name, utilization)
	p.reason = p.source + " above target"
	return p, st, nil
}

// sample sorts the target's pods: gone or failed ones are ignored, pending and (for CPU)
// not-ready ones are unready, running ones without metrics are missing, the rest measured.
func (c *Controller) sample(rp *resourceProposal, pods []*corev1.Pod, usage map[string]PodUsage, name corev1.ResourceName, container string) error {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		if pod.Status.Phase == corev1.PodPending || (name == corev1.ResourceCPU && !podReady(pod)) {
			rp.unready++
			continue
		}
		u, ok := usage[pod.Name]
		if !ok {
			rp.missing++
			continue
		}
		req, noReq, ok := requestOf(pod, name, container)
		if !ok && rp.targetAverage == 0 {
			return fmt.Errorf("missing request for %s in container %s of Pod %s", name, noReq, pod.Name)
		}
		var used int64
		for cname, res := range u {
			if container == "" || cname == container {
				q := res[name]
				used += q.MilliValue()
			}
		}
		rp.samples = append(rp.samples, podSample{usage: used, request: req})
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func maxWindow(up, down *autoscalingv2.HPAScalingRules) time.Duration {
	return time.Duration(max(*up.StabilizationWindowSeconds, *down.StabilizationWindowSeconds)) * time.Second
}

// pruneEvents drops scale events older than the longest policy period allowed (30 min).
func pruneEvents(ev []scaleEvent, now time.Time) []scaleEvent {
	var out []scaleEvent
	for _, e := range ev {
		if now.Sub(e.at) <= 30*time.Minute {
			out = append(out, e)
		}
	}
	return out
}
