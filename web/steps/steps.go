// Package steps turns real watch events (pods, ReplicaSets, Events) into the numbered steps
// the dashboard animates: the five-step Pod creation and the ReplicaSet reconcile. Nothing
// here is invented: every step is backed by one observed object change, and carries its
// resourceVersion and a diff of that change.
package steps

import (
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func reachedOf(pod *corev1.Pod) int {
	switch {
	case pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return 5
	case hasContainerStatus(pod):
		return 4
	case pod.Status.HostIP != "" || hasCondition(pod, corev1.PodInitialized):
		return 3
	}
	return 2
}

// RSStepOf maps a pod-creation step of a pod a ReplicaSet made to the reconcile step it is
// part of: seeing it (1) is reconcile 3, binding (2) is 4, running (5) is 5.
func RSStepOf(s Step) int {
	if s.Flow != FlowPod || s.Owner == "" {
		return 0
	}
	switch s.N {
	case 1:
		return 3
	case 2:
		return 4
	case 5:
		return 5
	}
	return 0
}

func hasContainerStatus(p *corev1.Pod) bool {
	return len(p.Status.ContainerStatuses) > 0
}

func hasCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return true
		}
	}
	return false
}

// objectDiff is a line diff of the two objects as YAML, without managedFields, so the
// learner sees exactly which fields that watch event changed.
func objectDiff(old, cur any) string {
	a := toYAML(old)
	b := toYAML(cur)
	return LineDiff(a, b)
}

func toYAML(o any) string {
	if o == nil {
		return ""
	}
	switch v := o.(type) {
	case *corev1.Pod:
		if v == nil {
			return ""
		}
		c := v.DeepCopy()
		c.ManagedFields = nil
		o = c
	case *appsv1.ReplicaSet:
		if v == nil {
			return ""
		}
		c := v.DeepCopy()
		c.ManagedFields = nil
		o = c
	}
	b, err := yaml.Marshal(o)
	if err != nil {
		return ""
	}
	return string(b)
}

// LineDiff returns a unified-style diff ("  ", "- ", "+ " prefixes) of two texts, keeping
// only changed lines with up to two lines of context, by longest common subsequence.
func LineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x := splitLines(a)
	y := splitLines(b)
	// LCS table; objects are a few hundred lines, so O(n*m) is fine.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var all []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			all = append(all, line{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			all = append(all, line{'-', x[i]})
			i++
		default:
			all = append(all, line{'+', y[j]})
			j++
		}
	}
	keep := make([]bool, len(all))
	for k, l := range all {
		if l.op != ' ' {
			for c := max(0, k-2); c <= min(len(all)-1, k+2); c++ {
				keep[c] = true
			}
		}
	}
	var sb strings.Builder
	gap := false
	for k, l := range all {
		if !keep[k] {
			gap = true
			continue
		}
		if gap && sb.Len() > 0 {
			sb.WriteString("  …\n")
		}
		gap = false
		sb.WriteByte(l.op)
		sb.WriteByte(' ')
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Ring keeps the most recent steps for the timeline.
type Ring struct {
	max   int
	steps []Step
}

// NewRing keeps up to max steps.
func NewRing(max int) *Ring { return &Ring{max: max} }

// Add appends steps, dropping the oldest beyond max.
func (r *Ring) Add(s ...Step) {
	r.steps = append(r.steps, s...)
	if over := len(r.steps) - r.max; over > 0 {
		r.steps = append([]Step(nil), r.steps[over:]...)
	}
}

// All returns the kept steps in the order their changes were written: by resourceVersion
// when it is a number (webkube's is the store revision, one sequence for every resource),
// which undoes the reordering of separate watches; by arrival otherwise.
func (r *Ring) All() []Step {
	out := append([]Step(nil), r.steps...)
	sort.SliceStable(out, func(i, j int) bool { return Before(out[i], out[j]) })
	return out
}

// Before orders two steps by resourceVersion, then by arrival.
func Before(a, b Step) bool {
	ra, ea := strconv.ParseUint(a.ResourceVersion, 10, 64)
	rb, eb := strconv.ParseUint(b.ResourceVersion, 10, 64)
	if ea == nil && eb == nil && ra != rb {
		return ra < rb
	}
	return a.Seq < b.Seq
}
