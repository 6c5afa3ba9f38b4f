package podautoscaler

import (
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/defaulting"
)

// DefaultTolerance: a usage ratio within 10% of 1 changes nothing (kube-controller-manager's
// --horizontal-pod-autoscaler-tolerance).
const DefaultTolerance = 0.1

// podSample is one ready pod's usage of a resource and its request (summed over the
// containers measured), in milli-units.
type podSample struct {
	usage, request int64
}

// resourceProposal is kube's replica calculator for a resource metric: the usage ratio
// (utilization / target, or average value / target) decides, unless within tolerance.
// Pods without metrics count, as Kubernetes counts them, at the target when scaling down
// and at zero when scaling up, and unready pods at zero when scaling up, so a proposal
// never moves the other way because of them.
type resourceProposal struct {
	current   int32
	samples   []podSample
	missing   int // pods running but not yet measured
	unready   int // pods measured but not ready (CPU only)
	tolerance float64
	// exactly one of these targets.
	targetUtilization int32
	targetAverage     int64 // milli-units per pod
}

// replicas returns the proposal and the current figure (utilization %, or the average
// milli-value per pod).
func (p resourceProposal) replicas() (int32, int64, error) {
	if len(p.samples) == 0 {
		return 0, 0, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, current, err := p.ratio(p.samples)
	if err != nil {
		return 0, 0, err
	}
	n := float64(len(p.samples))
	upWithUnready := p.unready > 0 && ratio > 1
	if !upWithUnready && p.missing == 0 {
		if math.Abs(1-ratio) <= p.tolerance {
			return p.current, current, nil
		}
		return int32(math.Ceil(ratio * n)), current, nil
	}
	// Fill in the pods we could not measure, to the side that dampens the change.
	all := append([]podSample{}, p.samples...)
	fill := podSample{request: p.samples[0].request}
	if ratio < 1 {
		fill.usage = p.fillAtTarget(fill.request)
	}
	for range p.missing {
		all = append(all, fill)
	}
	if upWithUnready {
		for range p.unready {
			all = append(all, podSample{request: p.samples[0].request})
		}
	}
	newRatio, _, err := p.ratio(all)
	if err != nil {
		return 0, 0, err
	}
	if math.Abs(1-newRatio) <= p.tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
		return p.current, current, nil
	}
	want := int32(math.Ceil(newRatio * float64(len(all))))
	if (newRatio < 1 && want > p.current) || (newRatio > 1 && want < p.current) {
		return p.current, current, nil
	}
	return want, current, nil
}

// fillAtTarget is the usage a missing pod is assumed to have when scaling down: its
// request at the target (at least 100% of it, as Kubernetes).
func (p resourceProposal) fillAtTarget(request int64) int64 {
	if p.targetAverage > 0 {
		return p.targetAverage
	}
	return request * int64(max(p.targetUtilization, 100)) / 100
}

// ratio is the samples' usage against the target; current is what status reports.
func (p resourceProposal) ratio(samples []podSample) (ratio float64, current int64, err error) {
	var usage, request int64
	for _, s := range samples {
		usage += s.usage
		request += s.request
	}
	if p.targetAverage > 0 {
		avg := usage / int64(len(samples))
		return float64(usage) / float64(p.targetAverage*int64(len(samples))), avg, nil
	}
	if request == 0 {
		return 0, 0, fmt.Errorf("no pods with a request for the resource")
	}
	util := usage * 100 / request
	return float64(util) / float64(p.targetUtilization), util, nil
}

// recommendation is one past proposal, for the stabilization windows.
type recommendation struct {
	replicas int32
	at       time.Time
}

// scaleEvent is one past change of the replica count, for the rate policies.
type scaleEvent struct {
	change int32 // positive up, negative down
	at     time.Time
}

// limited is a normalized replica count with the ScalingLimited condition's reason.
type limited struct {
	replicas        int32
	reason, message string
	limited         bool
}

// stabilize: a scale up goes only as high as the lowest proposal within the scale-up
// window, a scale down only as low as the highest within the scale-down window, so
// flapping metrics do not flap the replicas.
func stabilize(current, desired int32, history []recommendation, up, down *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	upRec, downRec := desired, desired
	upWin := time.Duration(*up.StabilizationWindowSeconds) * time.Second
	downWin := time.Duration(*down.StabilizationWindowSeconds) * time.Second
	for _, r := range history {
		if r.at.After(now.Add(-upWin)) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(now.Add(-downWin)) {
			downRec = max(downRec, r.replicas)
		}
	}
	rec := current
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	return rec
}

// bound applies the rate policies and min/max to the stabilized count.
func bound(current, desired, minR, maxR int32, events []scaleEvent, up, down *autoscalingv2.HPAScalingRules, now time.Time) limited {
	switch {
	case desired > current:
		limit := max(upLimit(current, events, up, now), current)
		if maxR < limit {
			if desired > maxR {
				return limited{maxR, "TooManyReplicas", "the desired replica count is more than the maximum replica count", true}
			}
		} else if desired > limit {
			return limited{limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate", true}
		}
	case desired < current:
		limit := min(downLimit(current, events, down, now), current)
		if minR > limit {
			if desired < minR {
				return limited{minR, "TooFewReplicas", "the desired replica count is less than the minimum replica count", true}
			}
		} else if desired < limit {
			return limited{limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate", true}
		}
	}
	if desired > maxR {
		return limited{maxR, "TooManyReplicas", "the desired replica count is more than the maximum replica count", true}
	}
	if desired < minR {
		return limited{minR, "TooFewReplicas", "the desired replica count is less than the minimum replica count", true}
	}
	return limited{desired, "DesiredWithinRange", "the desired count is within the acceptable range", false}
}

// changes sums the scale-ups and scale-downs within period before now.
func changes(events []scaleEvent, period int32, now time.Time) (added, deleted int32) {
	since := now.Add(-time.Duration(period) * time.Second)
	for _, e := range events {
		if e.at.After(since) {
			if e.change > 0 {
				added += e.change
			} else {
				deleted -= e.change
			}
		}
	}
	return added, deleted
}

// upLimit is the most replicas the scale-up policies allow now: from the count at each
// policy's period start, plus its pods or percent; Max picks the most permissive policy.
func upLimit(current int32, events []scaleEvent, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	result, pick := int32(math.MinInt32), func(a, b int32) int32 { return max(a, b) }
	if *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		result, pick = math.MaxInt32, func(a, b int32) int32 { return min(a, b) }
	}
	for _, p := range r.Policies {
		added, deleted := changes(events, p.PeriodSeconds, now)
		start := current - added + deleted
		proposed := start + p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// downLimit is the fewest replicas the scale-down policies allow now.
func downLimit(current int32, events []scaleEvent, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	result, pick := int32(math.MaxInt32), func(a, b int32) int32 { return min(a, b) }
	if *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		result, pick = math.MinInt32, func(a, b int32) int32 { return max(a, b) }
	}
	for _, p := range r.Policies {
		added, deleted := changes(events, p.PeriodSeconds, now)
		start := current + deleted - added
		proposed := start - p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

// rules are the HPA's behavior with Kubernetes's defaults where it gives none.
func rules(h *autoscalingv2.HorizontalPodAutoscaler) (up, down *autoscalingv2.HPAScalingRules) {
	var b autoscalingv2.HorizontalPodAutoscalerBehavior
	if h.Spec.Behavior != nil {
		b = *h.Spec.Behavior.DeepCopy()
	}
	return defaulting.ScaleUpRules(b.ScaleUp), defaulting.ScaleDownRules(b.ScaleDown)
}

// requestOf sums the containers' requests of res (milli-units); ok is false when a
// measured container has none (Kubernetes refuses to compute utilization then).
func requestOf(pod *corev1.Pod, res corev1.ResourceName, container string) (int64, string, bool) {
	var sum int64
	for _, c := range pod.Spec.Containers {
		if container != "" && c.Name != container {
			continue
		}
		q, ok := c.Resources.Requests[res]
		if !ok {
			return 0, c.Name, false
		}
		sum += q.MilliValue()
	}
	return sum, "", true
}
