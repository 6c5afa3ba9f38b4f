package podautoscaler

import (
	"context"
	"fmt"
	"math"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"webkube/internal/podstatus"
)

// proposal is one metric's replica count, with what decided it.
type proposal struct {
	replicas int32
	source   string // "cpu resource utilization (percentage of request)"
	reason   string // the SuccessfulRescale event's reason when scaling up
	summary  string // for the step gate: "cpu 180% of 50% target"
	// the summary's parts, for the catalogue: "cpu", "180%", "50%"
	metric, current, target string
}

// from fills in the texts that follow from the metric's description.
func (p proposal) from(source string) proposal {
	p.source, p.reason = source, source+" above target"
	p.summary = fmt.Sprintf("%s %s of %s target", p.metric, p.current, p.target)
	return p
}

// metricFailure is why one metric gave no proposal: the ScalingActive condition's reason
// and message (kube's getUnableComputeReplicaCountCondition), and the error as
// FailedComputeMetricsReplicas reports it.
type metricFailure struct {
	reason  string // FailedGetResourceMetric, FailedGetPodsMetric, ...
	cause   error  // "unable to get metric x: ..."
	wrapped error  // "failed to get pods metric value: unable to get metric x: ..."
}

func failed(reason string, cause error, wrapFormat string, args ...any) *metricFailure {
	return &metricFailure{reason: reason, cause: cause, wrapped: fmt.Errorf(wrapFormat+": %w", append(args, cause)...)}
}

// metricInput is what every metric of one HPA is computed from; the pods and their usage
// are read once, when a metric first needs them.
type metricInput struct {
	h                   *autoscalingv2.HorizontalPodAutoscaler
	sel                 labels.Selector
	specReplicas        int32 // the target's spec.replicas
	statusReplicas      int32
	pods                []*corev1.Pod
	usage               map[string]PodUsage
	usageErr            error
	podsRead, usageRead bool
}

// propose computes each metric's proposal and takes the largest, as Kubernetes does. A
// metric that cannot be computed (no metrics, no custom metrics API) is passed over while
// others can be, unless they would scale down; when none can, or they would scale down, it
// fails with the first failure. What was measured goes to h.Status.CurrentMetrics.
func (c *Controller) propose(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale, current int32) (proposal, *metricFailure) {
	sel, err := labels.Parse(scale.Status.Selector)
	if err != nil || sel.Empty() {
		err := fmt.Errorf("the target's selector %q selects no pods", scale.Status.Selector)
		return proposal{}, &metricFailure{reason: "InvalidSelector", cause: err, wrapped: err}
	}
	in := &metricInput{h: h, sel: sel, specReplicas: current, statusReplicas: scale.Status.Replicas}
	var best proposal
	var first *metricFailure
	invalid := 0
	// One status per metric, an empty one where it failed, as kube (kubectl matches them by index).
	statuses := make([]autoscalingv2.MetricStatus, len(h.Spec.Metrics))
	for i, m := range h.Spec.Metrics {
		p, st, f := c.proposeOne(ctx, in, m)
		if f != nil {
			c.recorder.Event(h, corev1.EventTypeWarning, f.reason, f.cause.Error())
			if invalid == 0 {
				first = f
			}
			invalid++
			continue
		}
		statuses[i] = st
		if best.source == "" || p.replicas > best.replicas {
			best = p
		}
	}
	h.Status.CurrentMetrics = statuses
	if invalid > 0 {
		first.wrapped = fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(h.Spec.Metrics), first.wrapped)
	}
	if invalid >= len(h.Spec.Metrics) || (invalid > 0 && best.replicas < current) {
		return proposal{}, first
	}
	if invalid > 0 {
		c.cfg.Logger.Info("scaling on the metrics that could be computed", "hpa", h.Namespace+"/"+h.Name, "err", first.wrapped)
	}
	return best, nil
}

// proposeOne is one metric's proposal and status, by its type.
func (c *Controller) proposeOne(ctx context.Context, in *metricInput, m autoscalingv2.MetricSpec) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
	switch {
	case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil:
		p, st, err := c.resourceMetric(ctx, in, m.Resource.Name, m.Resource.Target, "")
		if err != nil {
			return p, st, failed("FailedGetResourceMetric", err, "failed to get %s resource metric value", m.Resource.Name)
		}
		return p, st, nil
	case m.Type == autoscalingv2.ContainerResourceMetricSourceType && m.ContainerResource != nil:
		r := m.ContainerResource
		p, st, err := c.resourceMetric(ctx, in, r.Name, r.Target, r.Container)
		if err != nil {
			return p, st, failed("FailedGetContainerResourceMetric", err, "failed to get %s container metric value", r.Container)
		}
		return p, st, nil
	case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
		return c.podsMetric(ctx, in, m.Pods)
	case m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil:
		return c.objectMetric(ctx, in, m.Object)
	case m.Type == autoscalingv2.ExternalMetricSourceType && m.External != nil:
		return c.externalMetric(ctx, in, m.External)
	}
	err := fmt.Errorf("unknown metric source type %q", m.Type)
	return proposal{}, autoscalingv2.MetricStatus{}, &metricFailure{reason: "InvalidMetricSourceType", cause: err, wrapped: err}
}

// podsAndUsage lists the target's pods and reads their usage from the metrics API, once.
func (c *Controller) podsAndUsage(ctx context.Context, in *metricInput) ([]*corev1.Pod, map[string]PodUsage, error) {
	pods, err := c.targetPods(in)
	if err != nil {
		return nil, nil, err
	}
	if !in.usageRead {
		in.usage, in.usageErr = c.cfg.Metrics.PodUsage(ctx, in.h.Namespace, in.sel)
		in.usageRead = true
	}
	return pods, in.usage, in.usageErr
}

func (c *Controller) targetPods(in *metricInput) ([]*corev1.Pod, error) {
	if !in.podsRead {
		pods, err := c.pods.Pods(in.h.Namespace).List(in.sel)
		if err != nil {
			return nil, err
		}
		in.pods, in.podsRead = pods, true
	}
	if len(in.pods) == 0 {
		return nil, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	return in.pods, nil
}

// resourceMetric is a Resource or ContainerResource metric's proposal and status.
func (c *Controller) resourceMetric(ctx context.Context, in *metricInput, name corev1.ResourceName, target autoscalingv2.MetricTarget, container string) (proposal, autoscalingv2.MetricStatus, error) {
	pods, usage, err := c.podsAndUsage(ctx, in)
	if err != nil {
		return proposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("unable to get metrics for resource %s: %w", name, err)
	}
	rp := resourceProposal{current: in.specReplicas, tolerance: c.cfg.Tolerance}
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
	st := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType}
	if container == "" {
		st.Resource = &autoscalingv2.ResourceMetricStatus{Name: name, Current: value}
	} else {
		st.Type = autoscalingv2.ContainerResourceMetricSourceType
		st.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{Name: name, Container: container, Current: value}
	}
	return p.from(describe(name, utilization)), st, nil
}

// sample sorts the target's pods: gone or failed ones are ignored, pending and (for CPU)
// not-ready ones are unready, running ones without metrics are missing, the rest measured.
func (c *Controller) sample(rp *resourceProposal, pods []*corev1.Pod, usage map[string]PodUsage, name corev1.ResourceName, container string) error {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		if pod.Status.Phase == corev1.PodPending || (name == corev1.ResourceCPU && !podstatus.Ready(pod)) {
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

// podsMetric is a Pods metric's proposal: the pods' average against the target average,
// with unmeasured pods dampening a change as for a resource (kube's calcPlainMetricReplicas).
func (c *Controller) podsMetric(ctx context.Context, in *metricInput, m *autoscalingv2.PodsMetricSource) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
	fail := func(err error) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
		return proposal{}, autoscalingv2.MetricStatus{}, failed("FailedGetPodsMetric", err, "failed to get pods metric value")
	}
	metricSel, err := metav1.LabelSelectorAsSelector(m.Metric.Selector)
	if err != nil {
		return fail(err)
	}
	values, err := c.cfg.CustomMetrics.PodsMetric(ctx, in.h.Namespace, m.Metric.Name, in.sel, metricSel)
	if err != nil {
		return fail(fmt.Errorf("unable to get metric %s: %w", m.Metric.Name, err))
	}
	pods, err := c.targetPods(in)
	if err != nil {
		return fail(err)
	}
	// The pods' values as a usage of a resource named after the metric, with no request.
	name := corev1.ResourceName(m.Metric.Name)
	usage := map[string]PodUsage{}
	for pod, v := range values {
		usage[pod] = PodUsage{"": {name: *apiresource.NewMilliQuantity(v, apiresource.DecimalSI)}}
	}
	rp := resourceProposal{current: in.specReplicas, tolerance: c.cfg.Tolerance, targetAverage: m.Target.AverageValue.MilliValue()}
	if err := c.sample(&rp, pods, usage, name, ""); err != nil {
		return fail(err)
	}
	replicas, avg, err := rp.replicas()
	if err != nil {
		return fail(err)
	}
	cur := apiresource.NewMilliQuantity(avg, apiresource.DecimalSI)
	st := autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric: m.Metric, Current: autoscalingv2.MetricValueStatus{AverageValue: cur}}}
	p := proposal{replicas: replicas, metric: m.Metric.Name, current: cur.String(), target: m.Target.AverageValue.String()}
	return p.from("pods metric " + m.Metric.Name), st, nil
}

// objectMetric is an Object metric's proposal: its value against the target value times
// the ready pods, or its value per pod against the target average.
func (c *Controller) objectMetric(ctx context.Context, in *metricInput, m *autoscalingv2.ObjectMetricSource) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
	fail := func(err error) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
		return proposal{}, autoscalingv2.MetricStatus{}, failed("FailedGetObjectMetric", err, "failed to get object metric value")
	}
	metricSel, err := metav1.LabelSelectorAsSelector(m.Metric.Selector)
	if err != nil {
		return fail(err)
	}
	obj := m.DescribedObject
	value, err := c.cfg.CustomMetrics.ObjectMetric(ctx, in.h.Namespace, m.Metric.Name, obj, metricSel)
	if err != nil {
		// kube says "unable to get metric %s: %v on %s %s/%s" with its arguments out of
		// order; this is the sentence it meant.
		return fail(fmt.Errorf("unable to get metric %s on %s %s/%s: %w", m.Metric.Name, obj.Kind, in.h.Namespace, obj.Name, err))
	}
	return c.valueProposal(in, value, m.Target, m.Metric.Name, obj.Kind+" metric "+m.Metric.Name, fail,
		func(v autoscalingv2.MetricValueStatus) autoscalingv2.MetricStatus {
			return autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
				DescribedObject: obj, Metric: m.Metric, Current: v}}
		})
}

// externalMetric is an External metric's proposal: the sum of its values, as an Object one.
func (c *Controller) externalMetric(ctx context.Context, in *metricInput, m *autoscalingv2.ExternalMetricSource) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
	fail := func(err error) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
		return proposal{}, autoscalingv2.MetricStatus{}, failed("FailedGetExternalMetric", err, "failed to get %s external metric value", m.Metric.Name)
	}
	metricSel, err := metav1.LabelSelectorAsSelector(m.Metric.Selector)
	if err != nil {
		return fail(err)
	}
	values, err := c.cfg.CustomMetrics.ExternalMetric(ctx, in.h.Namespace, m.Metric.Name, metricSel)
	if err != nil {
		return fail(fmt.Errorf("unable to get external metric %s/%s/%+v: %w", in.h.Namespace, m.Metric.Name, m.Metric.Selector, err))
	}
	var sum int64
	for _, v := range values {
		sum += v
	}
	return c.valueProposal(in, sum, m.Target, m.Metric.Name, fmt.Sprintf("external metric %s(%+v)", m.Metric.Name, m.Metric.Selector), fail,
		func(v autoscalingv2.MetricValueStatus) autoscalingv2.MetricStatus {
			return autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
				Metric: m.Metric, Current: v}}
		})
}

// valueProposal is kube's replica calculation for one value (an object's metric, or the
// sum of an external one). A Value target: ratio value/target times the ready pods
// (ceil), or ceil(ratio) from zero replicas. An AverageValue target: ceil(value/target),
// unless within tolerance of the current replicas.
func (c *Controller) valueProposal(in *metricInput, value int64, target autoscalingv2.MetricTarget, metric, source string,
	fail func(error) (proposal, autoscalingv2.MetricStatus, *metricFailure),
	status func(autoscalingv2.MetricValueStatus) autoscalingv2.MetricStatus) (proposal, autoscalingv2.MetricStatus, *metricFailure) {
	p := proposal{metric: metric}
	var cur autoscalingv2.MetricValueStatus
	switch {
	case target.Type == autoscalingv2.ValueMetricType && target.Value != nil:
		ratio := float64(value) / float64(target.Value.MilliValue())
		p.replicas = int32(math.Ceil(ratio))
		if in.specReplicas != 0 {
			p.replicas = in.specReplicas
			if math.Abs(1-ratio) > c.cfg.Tolerance {
				ready, err := c.readyPods(in)
				if err != nil {
					return fail(fmt.Errorf("unable to calculate ready pods: %w", err))
				}
				p.replicas = int32(math.Ceil(ratio * float64(ready)))
			}
		}
		cur.Value = apiresource.NewMilliQuantity(value, apiresource.DecimalSI)
		p.current, p.target = cur.Value.String(), target.Value.String()
	case target.Type == autoscalingv2.AverageValueMetricType && target.AverageValue != nil:
		t, n := float64(target.AverageValue.MilliValue()), max(in.statusReplicas, 1)
		p.replicas = in.statusReplicas
		if math.Abs(1-float64(value)/(t*float64(n))) > c.cfg.Tolerance || in.statusReplicas == 0 {
			p.replicas = int32(math.Ceil(float64(value) / t))
		}
		cur.AverageValue = apiresource.NewMilliQuantity(int64(math.Ceil(float64(value)/float64(n))), apiresource.DecimalSI)
		p.current, p.target = cur.AverageValue.String(), target.AverageValue.String()
	default:
		return fail(fmt.Errorf("invalid metric source: neither a value target nor an average value target was set"))
	}
	return p.from(source), status(cur), nil
}

// readyPods counts the target's running, ready pods.
func (c *Controller) readyPods(in *metricInput) (int, error) {
	pods, err := c.targetPods(in)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodRunning && podstatus.Ready(pod) {
			n++
		}
	}
	return n, nil
}
