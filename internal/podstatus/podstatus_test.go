package podstatus

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReady(t *testing.T) {
	cond := func(ty corev1.PodConditionType, st corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: ty, Status: st}
	}
	for _, tc := range []struct {
		name  string
		conds []corev1.PodCondition
		want  bool
	}{
		{"NoConditions", nil, false},
		{"OnlyContainersReady", []corev1.PodCondition{cond(corev1.ContainersReady, corev1.ConditionTrue)}, false},
		{"ReadyTrue", []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionTrue), cond(corev1.PodReady, corev1.ConditionTrue)}, true},
		{"ReadyFalse", []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse)}, false},
		{"ReadyUnknown", []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionUnknown)}, false},
		{"FirstDecides", []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionFalse), cond(corev1.PodReady, corev1.ConditionTrue)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Status: corev1.PodStatus{Conditions: tc.conds}}
			if got := Ready(p); got != tc.want {
				t.Fatalf("Ready = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadyCondition(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"},
	}}}
	c := ReadyCondition(p)
	if c == nil || c.Reason != "ContainersNotReady" {
		t.Fatalf("ReadyCondition = %+v", c)
	}
	if c := ReadyCondition(&corev1.Pod{}); c != nil {
		t.Fatalf("ReadyCondition of a pod without conditions = %+v, want nil", c)
	}
}
