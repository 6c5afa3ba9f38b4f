package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// The reasons below are kube-scheduler 1.32's own words, so a learner can search for them.
const (
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonUnschedulable = "node(s) were unschedulable"
	reasonTooManyPods   = "Too many pods"
	reasonNotHelpful    = "Preemption is not helpful for scheduling"
	reasonNoVictims     = "No preemption victims found for incoming pod"
)

type request struct {
	milliCPU, memory int64
	nzCPU, nzMem     int64
}

const (
	defaultMilliCPU = 100
	defaultMemory   = 200 * 1024 * 1024
)

// podRequest is the larger of the sum of the containers' requests and any one init
// container's, plus overhead: what the pod holds on a node at its peak.
func podRequest(p *corev1.Pod) request {
	var r request
	for _, c := range p.Spec.Containers {
		cpu, mem := c.Resources.Requests.Cpu().MilliValue(), c.Resources.Requests.Memory().Value()
		r.milliCPU += cpu
		r.memory += mem
		if cpu == 0 {
			cpu = defaultMilliCPU
		}
		if mem == 0 {
			mem = defaultMemory
		}
		r.nzCPU += cpu
		r.nzMem += mem
	}
	for _, c := range p.Spec.InitContainers {
		r.milliCPU = max(r.milliCPU, c.Resources.Requests.Cpu().MilliValue())
		r.memory = max(r.memory, c.Resources.Requests.Memory().Value())
	}
	if p.Spec.Overhead != nil {
		r.milliCPU += p.Spec.Overhead.Cpu().MilliValue()
		r.memory += p.Spec.Overhead.Memory().Value()
	}
	return r
}

// filter returns why node cannot take pod (nil when it can), and whether those reasons are
// ones preemption could resolve. It stops at the first failing check, as kube-scheduler's
// filter plugins do, except that resource fit reports every insufficient resource.
func filter(pod *corev1.Pod, node *corev1.Node, u usage) (reasons []string, resolvable bool) {
	// NodeUnschedulable: a cordoned node, unless the pod tolerates the cordon taint.
	if node.Spec.Unschedulable && !tolerates(pod, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return []string{reasonUnschedulable}, false
	}
	// A node whose kubelet stopped reporting carries the not-ready taint in Kubernetes;
	// webkube has no node lifecycle controller, so read the condition directly.
	if !nodeReady(node) && !tolerates(pod, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}) {
		return []string{fmt.Sprintf("node(s) had untolerated taint {%s: }", corev1.TaintNodeNotReady)}, false
	}
	// TaintToleration: NoSchedule and NoExecute taints must be tolerated.
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !tolerates(pod, t) {
			return []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}, false
		}
	}
	// NodeAffinity: nodeSelector and required node affinity.
	if !matchesNodeSelector(pod, node) {
		return []string{reasonAffinity}, false
	}
	// NodeResourcesFit.
	// A resource the node does not report at all is not limited: a kubelet that only
	// knows its CPU should not turn every pod away for "Too many pods".
	alloc := node.Status.Allocatable
	req := podRequest(pod)
	if q, ok := alloc[corev1.ResourcePods]; ok && u.pods+1 > q.Value() {
		reasons = append(reasons, reasonTooManyPods)
	}
	if q, ok := alloc[corev1.ResourceCPU]; ok && req.milliCPU > 0 && u.milliCPU+req.milliCPU > q.MilliValue() {
		reasons = append(reasons, "Insufficient cpu")
	}
	if q, ok := alloc[corev1.ResourceMemory]; ok && req.memory > 0 && u.memory+req.memory > q.Value() {
		reasons = append(reasons, "Insufficient memory")
	}
	return reasons, true
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func tolerates(pod *corev1.Pod, t corev1.Taint) bool {
	for i := range pod.Spec.Tolerations {
		if pod.Spec.Tolerations[i].ToleratesTaint(&t) {
			return true
		}
	}
	return false
}

func matchesNodeSelector(pod *corev1.Pod, node *corev1.Node) bool {
	if len(pod.Spec.NodeSelector) > 0 &&
		!labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	// Terms are ORed; the requirements inside one term are ANDed.
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if termMatches(term, node) {
			return true
		}
	}
	return false
}

func termMatches(term corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false // an empty term matches nothing, as in Kubernetes
	}
	sel, err := requirementsSelector(term.MatchExpressions)
	if err != nil || !sel.Matches(labels.Set(node.Labels)) {
		return false
	}
	if len(term.MatchFields) > 0 {
		fs, err := requirementsSelector(term.MatchFields)
		if err != nil || !fs.Matches(fields.Set{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

func requirementsSelector(reqs []corev1.NodeSelectorRequirement) (labels.Selector, error) {
	ops := map[corev1.NodeSelectorOperator]selection.Operator{
		corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
		corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
		corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
	}
	sel := labels.NewSelector()
	for _, r := range reqs {
		op, ok := ops[r.Operator]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", r.Operator)
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return nil, err
		}
		sel = sel.Add(*req)
	}
	return sel, nil
}

// failureMessage renders kube-scheduler's FailedScheduling text: reasons counted over the
// nodes and sorted, then what preemption would say.
func failureMessage(results []NodeResult, resolvable map[string]bool) string {
	if len(results) == 0 {
		return "no nodes available to schedule pods"
	}
	counts := map[string]int{}
	pre := map[string]int{}
	for _, r := range results {
		for _, reason := range r.Reasons {
			counts[reason]++
		}
		if resolvable[r.Node] {
			pre[reasonNoVictims]++
		} else {
			pre[reasonNotHelpful]++
		}
	}
	n := len(results)
	return fmt.Sprintf("0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s.",
		n, histogram(counts), n, histogram(pre))
}

func histogram(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for reason, c := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", c, reason))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
