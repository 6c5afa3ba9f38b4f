// Package steps turns real watch events (pods, ReplicaSets, Events) into the numbered steps
// the dashboard animates: the five-step Pod creation and the ReplicaSet reconcile. Nothing
// here is invented: every step is backed by one observed object change, and carries its
// resourceVersion and a diff of that change.
package steps

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Flows.
const (
	FlowPod        = "pod"        // Pod creation, steps 1-5
	FlowReplicaSet = "replicaset" // ReplicaSet reconcile, steps 1-5
)

// Step is one animated step.
type Step struct {
	Seq             int       `json:"seq"`
	Flow            string    `json:"flow"`
	N               int       `json:"n"`
	Title           string    `json:"title"`
	Component       string    `json:"component"` // scheduler, controller-manager, kubelet, containerd, apiserver
	Node            string    `json:"node,omitempty"`
	Kind            string    `json:"kind"`
	Namespace       string    `json:"namespace"`
	Name            string    `json:"name"`
	Owner           string    `json:"owner,omitempty"` // "ReplicaSet/echo-rs" for pods a ReplicaSet made
	Time            time.Time `json:"time"`
	ResourceVersion string    `json:"resourceVersion"`
	Evidence        string    `json:"evidence"` // the watch event behind it: "MODIFIED Pod default/echo: spec.nodeName set"
	Diff            string    `json:"diff,omitempty"`
}

// Pod creation titles, as the seed words them.
var podTitles = [6]string{"",
	"scheduler sees the unassigned pod",
	"scheduler binds it to a node",
	"kubelet sees the pod bound to its node",
	"kubelet has containerd create the containers",
	"kubelet reports the pod status",
}

var rsTitles = [6]string{"",
	"controller sees desired ≠ current",
	"controller creates or deletes pods",
	"scheduler sees the new pods",
	"scheduler binds them to nodes",
	"kubelets run them",
}

var podComponents = [6]string{"", "scheduler", "scheduler", "kubelet", "containerd", "kubelet"}

// Deriver keeps per-object progress so each step is reported once and in order.
// It is not safe for concurrent use; feed it from one goroutine.
type Deriver struct {
	seq  int
	pods map[types.UID]*podProgress
	rss  map[string]rsCounts // "namespace/name" -> last seen spec and status replicas
	now  func() time.Time
}

type podProgress struct {
	last     int
	owner    string
	deleting bool // its deletion was reported
}

type rsCounts struct{ desired, current int32 }

// New returns a Deriver; now stamps steps whose evidence has no time of its own.
func New(now func() time.Time) *Deriver {
	return &Deriver{pods: map[types.UID]*podProgress{}, rss: map[string]rsCounts{}, now: now}
}

// Pod derives steps from a pod watch event. old is nil for ADDED; for DELETED, pass the
// last known object as new and old as nil with deleted=true.
func (d *Deriver) Pod(eventType string, old, pod *corev1.Pod) []Step {
	out := d.pod(eventType, old, pod)
	// The diff costs two YAML renderings; most pod events (status churn) yield no step.
	if len(out) > 0 {
		diff := objectDiff(old, pod)
		for i := range out {
			out[i].Diff = diff
		}
	}
	return out
}

func (d *Deriver) pod(eventType string, old, pod *corev1.Pod) []Step {
	if pod == nil {
		return nil
	}
	var out []Step
	owner := ""
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "ReplicaSet" {
		owner = "ReplicaSet/" + ref.Name
	}
	diff := "" // filled in by Pod
	ev := func(what string) string {
		return fmt.Sprintf("%s Pod %s/%s: %s", eventType, pod.Namespace, pod.Name, what)
	}
	if eventType == "DELETED" {
		pp := d.pods[pod.UID]
		delete(d.pods, pod.UID)
		if owner != "" && (pp == nil || !pp.deleting) {
			out = append(out, d.deletion(pod, owner, ev("pod removed"), diff))
		}
		return out
	}
	pp := d.pods[pod.UID]
	if pp == nil {
		pp = &podProgress{owner: owner}
		d.pods[pod.UID] = pp
		if owner != "" && eventType == "ADDED" {
			out = append(out, d.rsStep(2, "controller-manager", pod, owner, "", ev("created with an ownerReference to "+owner), diff,
				fmt.Sprintf("%s created pod %s", owner, pod.Name)))
		}
		if pod.Spec.NodeName != "" {
			// Bound before we saw it (we joined late, or it was created with nodeName):
			// whatever it has reached did not happen in front of us.
			pp.last = reachedOf(pod)
			return out
		}
	}
	if old != nil && owner == "" {
		// Released: the pod lost its ReplicaSet's ownerReference (a label no longer matches),
		// so that ReplicaSet is now short of a pod.
		if ref := metav1.GetControllerOf(old); ref != nil && ref.Kind == "ReplicaSet" {
			d.seq++
			out = append(out, Step{
				Seq: d.seq, Flow: FlowReplicaSet, N: 1, Title: rsTitles[1] + ": " + pod.Name + " released",
				Component: "controller-manager", Kind: "ReplicaSet", Namespace: pod.Namespace, Name: ref.Name,
				Time: d.now(), ResourceVersion: pod.ResourceVersion, Diff: diff,
				Evidence: ev("ownerReference to ReplicaSet/" + ref.Name + " removed"),
			})
		}
	}
	if old != nil && old.DeletionTimestamp == nil && pod.DeletionTimestamp != nil && owner != "" && !pp.deleting {
		pp.deleting = true
		out = append(out, d.deletion(pod, owner, ev("deletionTimestamp set"), diff))
	}
	reached := 0
	why := ""
	switch {
	case pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		reached, why = 5, "status.phase "+string(pod.Status.Phase)
	case hasContainerStatus(pod):
		reached, why = 4, "status.containerStatuses reported"
	case pod.Spec.NodeName != "" && (pod.Status.HostIP != "" || hasCondition(pod, corev1.PodInitialized) || hasCondition(pod, corev1.ContainersReady)):
		reached, why = 3, "kubelet wrote status (hostIP/conditions)"
	case pod.Spec.NodeName != "":
		reached, why = 2, "spec.nodeName set to "+pod.Spec.NodeName
	case eventType == "ADDED" || pp.last == 0:
		reached, why = 1, "spec.nodeName empty"
	}
	for n := pp.last + 1; n <= reached; n++ {
		w := why
		if n < reached {
			w = why + " (implies this step)"
		}
		if n == 2 && reached > 2 {
			w = "spec.nodeName set to " + pod.Spec.NodeName
		}
		out = append(out, d.podStep(n, pod, owner, ev(w), diff))
	}
	if reached > pp.last {
		pp.last = reached
	}
	return out
}

// Event derives steps from a core/v1 Event: kubelet events (Pulling, Pulled, Created,
// Started) are the clearest evidence of steps 3 and 4; Scheduled of step 2.
func (d *Deriver) Event(e *corev1.Event, pod *corev1.Pod) []Step {
	if e == nil || e.InvolvedObject.Kind != "Pod" {
		return nil
	}
	// Scheduled is not used: the binding itself arrives as a pod MODIFIED with nodeName,
	// which carries the diff. Kubelet events only count once that binding was seen, since
	// the Events watch can run ahead of the pods watch.
	target := 0
	switch e.Reason {
	case "Pulling", "Pulled":
		target = 3
	case "Created", "Started":
		target = 4
	default:
		return nil
	}
	pp := d.pods[e.InvolvedObject.UID]
	if pp == nil || pp.last < 2 || pp.last >= target {
		return nil
	}
	p := pod
	if p == nil {
		p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: e.InvolvedObject.Name, Namespace: e.InvolvedObject.Namespace, UID: e.InvolvedObject.UID}}
	}
	var out []Step
	for n := pp.last + 1; n <= target; n++ {
		s := d.podStep(n, p, pp.owner, fmt.Sprintf("Event %s: %s", e.Reason, e.Message), "")
		s.ResourceVersion = e.ResourceVersion
		// lastTimestamp has whole seconds on the wire and would sort before the binding
		// step; only the precise eventTime beats the time the event arrived.
		if !e.EventTime.IsZero() {
			s.Time = e.EventTime.Time
		}
		out = append(out, s)
	}
	pp.last = target
	return out
}

// ReplicaSet derives step 1 of the reconcile: the controller has a ReplicaSet whose desired
// replicas differ from what it has.
func (d *Deriver) ReplicaSet(eventType string, old, rs *appsv1.ReplicaSet) []Step {
	if rs == nil || rs.Spec.Replicas == nil {
		return nil
	}
	key := rs.Namespace + "/" + rs.Name
	if eventType == "DELETED" {
		delete(d.rss, key)
		return nil
	}
	desired := *rs.Spec.Replicas
	cur := rs.Status.Replicas
	d.rss[key] = rsCounts{desired: desired, current: cur}
	if desired == cur {
		return nil
	}
	// Report once per change of the wish (a new object, or spec.replicas changed); status
	// updates while the controller works toward it are progress, not a new step.
	if old != nil && old.Spec.Replicas != nil && *old.Spec.Replicas == desired {
		return nil
	}
	d.seq++
	return []Step{{
		Seq: d.seq, Flow: FlowReplicaSet, N: 1, Title: rsTitles[1], Component: "controller-manager",
		Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, Time: d.now(),
		ResourceVersion: rs.ResourceVersion,
		Evidence:        fmt.Sprintf("%s ReplicaSet %s/%s: spec.replicas %d, status.replicas %d", eventType, rs.Namespace, rs.Name, desired, cur),
		Diff:            objectDiff(old, rs),
	}}
}

func (d *Deriver) podStep(n int, pod *corev1.Pod, owner, evidence, diff string) Step {
	d.seq++
	s := Step{
		Seq: d.seq, Flow: FlowPod, N: n, Title: podTitles[n], Component: podComponents[n],
		Node: pod.Spec.NodeName, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: owner,
		Time: d.now(), ResourceVersion: pod.ResourceVersion, Evidence: evidence, Diff: diff,
	}
	return s
}

func (d *Deriver) rsStep(n int, component string, pod *corev1.Pod, owner, node, evidence, diff, title string) Step {
	d.seq++
	return Step{
		Seq: d.seq, Flow: FlowReplicaSet, N: n, Title: rsTitles[n] + ": " + title, Component: component,
		Node: node, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: owner,
		Time: d.now(), ResourceVersion: pod.ResourceVersion, Evidence: evidence, Diff: diff,
	}
}

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

// deletion reports a pod of a ReplicaSet going away. While the ReplicaSet has more pods
// than it wants, that is its controller deleting the surplus (reconcile step 2); otherwise
// someone else deleted it, and the controller now sees desired ≠ current (step 1).
func (d *Deriver) deletion(pod *corev1.Pod, owner, evidence, diff string) Step {
	rsName := strings.TrimPrefix(owner, "ReplicaSet/")
	c, known := d.rss[pod.Namespace+"/"+rsName]
	if known && c.current > c.desired {
		return d.rsStep(2, "controller-manager", pod, owner, pod.Spec.NodeName, evidence, diff,
			fmt.Sprintf("%s deletes pod %s (has %d, wants %d)", owner, pod.Name, c.current, c.desired))
	}
	d.seq++
	return Step{
		Seq: d.seq, Flow: FlowReplicaSet, N: 1, Title: rsTitles[1] + ": pod " + pod.Name + " was deleted",
		Component: "controller-manager", Kind: "ReplicaSet", Namespace: pod.Namespace, Name: rsName,
		Time: d.now(), ResourceVersion: pod.ResourceVersion, Evidence: evidence, Diff: diff,
	}
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
