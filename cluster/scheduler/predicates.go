package scheduler

import corev1 "k8s.io/api/core/v1"

// MatchesNodeAffinity says whether pod's nodeSelector and required node affinity select
// node, as the scheduler's NodeAffinity filter does; the DaemonSet controller asks it too.
func MatchesNodeAffinity(pod *corev1.Pod, node *corev1.Node) bool {
	return matchesNodeSelector(pod, node)
}

// NodeReady says whether node's Ready condition is True.
func NodeReady(node *corev1.Node) bool { return nodeReady(node) }
