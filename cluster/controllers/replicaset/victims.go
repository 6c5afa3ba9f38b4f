package replicaset

import (
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"webkube/internal/podstatus"
)

// deletionCostAnnotation lets users say which pods to remove first (lower cost first).
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// byDeletionPreference orders pods the way Kubernetes picks victims when scaling down:
// the ones whose loss hurts least come first.
type byDeletionPreference []*corev1.Pod

func (s byDeletionPreference) Len() int      { return len(s) }
func (s byDeletionPreference) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s byDeletionPreference) Less(i, j int) bool {
	a, b := s[i], s[j]
	// 1. Not yet on a node before on a node.
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	// 2. Pending < Unknown < Running.
	phase := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	if phase[a.Status.Phase] != phase[b.Status.Phase] {
		return phase[a.Status.Phase] < phase[b.Status.Phase]
	}
	// 3. Not ready before ready.
	ra, rb := podstatus.Ready(a), podstatus.Ready(b)
	if ra != rb {
		return !ra
	}
	// 4. Lower deletion cost first.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	// 5. Ready for less time first.
	if ra && rb {
		ta, tb := readyTime(a), readyTime(b)
		if !ta.Equal(tb) {
			return tb.Before(ta)
		}
	}
	// 6. More restarts first.
	if na, nb := restarts(a), restarts(b); na != nb {
		return na > nb
	}
	// 7. Newer first.
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name < b.Name
}

func pickVictims(pods []*corev1.Pod, n int) []*corev1.Pod {
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.Sort(byDeletionPreference(sorted))
	if n > len(sorted) {
		n = len(sorted)
	}
	return sorted[:n]
}

func deletionCost(p *corev1.Pod) int64 {
	v, ok := p.Annotations[deletionCostAnnotation]
	if !ok {
		return 0
	}
	c, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return c
}

func readyTime(p *corev1.Pod) (t time.Time) {
	if c := podstatus.ReadyCondition(p); c != nil {
		return c.LastTransitionTime.Time
	}
	return t
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}
