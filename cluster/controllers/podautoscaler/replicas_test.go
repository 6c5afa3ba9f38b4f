package podautoscaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"webkube/cluster/defaulting"
)

func pods(n int, usage, request int64) []podSample {
	out := make([]podSample, n)
	for i := range out {
		out[i] = podSample{usage: usage, request: request}
	}
	return out
}

// The replica calculator: ceil(ratio × measured pods), nothing within the 10% tolerance,
// and pods not measured or not ready counted so that they only dampen a change.
func TestResourceProposal(t *testing.T) {
	for _, tc := range []struct {
		name             string
		p                resourceProposal
		want             int32
		wantUtilizationo int64
	}{
		{"180% of 50%: ×3.6 → 4", resourceProposal{current: 1, samples: pods(1, 180, 100), targetUtilization: 50}, 4, 180},
		{"54% of 50% is within tolerance", resourceProposal{current: 3, samples: pods(3, 54, 100), targetUtilization: 50}, 3, 54},
		{"56% of 50% is not", resourceProposal{current: 3, samples: pods(3, 56, 100), targetUtilization: 50}, 4, 56},
		{"46% of 50% is within tolerance", resourceProposal{current: 3, samples: pods(3, 46, 100), targetUtilization: 50}, 3, 46},
		{"10% of 50% on 5 → 1", resourceProposal{current: 5, samples: pods(5, 10, 100), targetUtilization: 50}, 1, 10},
		{"average value 300m of 100m on 2 → 6", resourceProposal{current: 2, samples: pods(2, 300, 50), targetAverage: 100}, 6, 300},
		// 2 measured at 200%, 2 unready counted at 0 → ratio (400/400)/0.5 = 2 → 8; fewer than ×4.
		{"unready pods count as 0 when scaling up", resourceProposal{current: 4, samples: pods(2, 200, 100), unready: 2, targetUtilization: 50}, 8, 200},
		// 1 measured at 20%, 1 missing assumed at 100% → 60% of 50%: a scale-down turns into an up, so no change.
		{"a missing pod stops a scale down that it would reverse", resourceProposal{current: 2, samples: pods(1, 20, 100), missing: 1, targetUtilization: 50}, 2, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.tolerance = DefaultTolerance
			got, util, err := tc.p.replicas()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || util != tc.wantUtilizationo {
				t.Errorf("got %d replicas at %d, want %d at %d", got, util, tc.want, tc.wantUtilizationo)
			}
		})
	}
	if _, _, err := (resourceProposal{current: 1, tolerance: DefaultTolerance}).replicas(); err == nil {
		t.Error("no measured pods gave no error")
	}
}

// Stabilization on a moved clock: a scale down waits for the highest proposal of the last
// 300 s; a scale up is immediate (window 0) unless a window is set.
func TestStabilize(t *testing.T) {
	up, down := defaulting.ScaleUpRules(nil), defaulting.ScaleDownRules(nil)
	t0 := time.Unix(10000, 0)
	hist := []recommendation{{5, t0}, {3, t0.Add(60 * time.Second)}}
	if got := stabilize(5, 1, hist, up, down, t0.Add(120*time.Second)); got != 5 {
		t.Errorf("scale down inside the window: %d, want 5 (the highest proposal in 300 s)", got)
	}
	if got := stabilize(5, 1, hist, up, down, t0.Add(301*time.Second)); got != 3 {
		t.Errorf("after the first proposal left the window: %d, want 3", got)
	}
	if got := stabilize(5, 1, hist, up, down, t0.Add(400*time.Second)); got != 1 {
		t.Errorf("after the window: %d, want 1", got)
	}
	if got := stabilize(1, 4, hist, up, down, t0.Add(120*time.Second)); got != 4 {
		t.Errorf("scale up with no window: %d, want 4", got)
	}
	w := int32(60)
	slowUp := defaulting.ScaleUpRules(&autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &w})
	if got := stabilize(1, 8, []recommendation{{2, t0.Add(100 * time.Second)}}, slowUp, down, t0.Add(120*time.Second)); got != 2 {
		t.Errorf("scale up inside a 60 s window: %d, want 2 (the lowest proposal in it)", got)
	}
}

// The rate policies and min/max: by default up to max(4 pods, 100%) per 15 s, down 100%.
func TestBound(t *testing.T) {
	up, down := defaulting.ScaleUpRules(nil), defaulting.ScaleDownRules(nil)
	now := time.Unix(10000, 0)
	for _, tc := range []struct {
		name                       string
		current, desired, min, max int32
		events                     []scaleEvent
		up                         *autoscalingv2.HPAScalingRules
		want                       int32
		reason                     string
	}{
		{"within range", 1, 4, 1, 10, nil, up, 4, "DesiredWithinRange"},
		{"4 pods per 15 s beats 100% from 1", 1, 9, 1, 10, nil, up, 5, "ScaleUpLimit"},
		{"100% beats 4 pods from 6", 6, 20, 1, 30, nil, up, 12, "ScaleUpLimit"},
		{"max", 6, 20, 1, 8, nil, up, 8, "TooManyReplicas"},
		{"min", 4, 0, 2, 10, nil, up, 2, "TooFewReplicas"},
		{"a scale up 5 s ago counts against the period", 5, 20, 1, 30, []scaleEvent{{4, now.Add(-5 * time.Second)}}, up, 5, "ScaleUpLimit"},
		{"but not 20 s ago", 5, 20, 1, 30, []scaleEvent{{4, now.Add(-20 * time.Second)}}, up, 10, "ScaleUpLimit"},
		{"one pod per minute", 2, 6, 1, 10, nil, &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32),
			SelectPolicy: ptr(autoscalingv2.MaxChangePolicySelect), Policies: []autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 60}}}, 3, "ScaleUpLimit"},
		{"disabled", 2, 6, 1, 10, nil, &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32),
			SelectPolicy: ptr(autoscalingv2.DisabledPolicySelect), Policies: []autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 60}}}, 2, "ScaleUpLimit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := bound(tc.current, tc.desired, tc.min, tc.max, tc.events, tc.up, down, now)
			if l.replicas != tc.want || l.reason != tc.reason {
				t.Errorf("got %d (%s), want %d (%s)", l.replicas, l.reason, tc.want, tc.reason)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
