// Package templates holds the dashboard's templ components and the small view models they
// render. Conversions from Kubernetes objects to view models live here too, so a render test
// can start from a real corev1.Pod.
package templates

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"webkube/web/diagram"
	"webkube/web/i18n"
	"webkube/web/probes"
	"webkube/web/rollout"
	"webkube/web/traffic"
)

// Label is one label chip.
type Label struct{ Key, Value string }

// Page is what every page's layout needs.
type Page struct {
	Title     string
	Active    string // nav item: overview, editor, steps
	CSRF      string
	StepMode  bool
	StepsOK   bool // a Gate is wired, so step mode can be offered
	Nodes     []string
	Pods      []diagram.Token // the diagram's pod tokens as the page opens
	Held      []HeldView
	Namespace string
	Lang      string // the page's language: en or ko
	Now       int64  // the server's clock as the page was rendered (Unix ms): ages tick from it
	Path      string // this page, for the language switch to come back to
	// Cluster names the cluster the dashboard is attached to ("" for webkube's own).
	Cluster string
	// Access is what the user may not do (SelfSubjectAccessReview); perms.js disables
	// those actions with the reason.
	Access any
	// AccessUnknown: the API server has no SelfSubjectAccessReview; every action is offered.
	AccessUnknown bool
	// Unwatchable are the API server's refusals to list or watch a kind: its lists stay empty.
	Unwatchable []string
}

// PodRow is one pod in a table.
type PodRow struct {
	Namespace, Name, Status, Ready, Node, IP, Age, Owner, OwnerKind string
	Restarts                                                        int32
	Color                                                           string // ok, warn, bad, idle
	AgeAt                                                           int64  // see Millis
	Labels                                                          []Label
}

// NodeRow is one node.
type NodeRow struct {
	Name, Status, Age, Color, Version, IP string
	Unschedulable                         bool
	Pods                                  int
	AgeAt                                 int64 // see Millis
}

// RSRow is one ReplicaSet.
type RSRow struct {
	Namespace, Name, Selector, Age, Owner, Color string
	Desired, Current, Ready                      int32
	Labels                                       []Label
}

// DeployRow is one Deployment.
type DeployRow struct {
	Namespace, Name, Selector, Age, Color string
	Desired, Ready, UpToDate, Available   int32
}

// SvcRow is one Service.
type SvcRow struct {
	Namespace, Name, Type, ClusterIP, Ports, Selector, Age, Color string
	Ready, NotReady                                               int
}

// Overview is the cluster overview.
type Overview struct {
	Nodes       []NodeRow
	PodPage     PodPage
	ReplicaSets []RSRow
	Deployments []DeployRow
	Services    []SvcRow
	Jobs        []JobRow
	CronJobs    []CronJobRow
	Resources   []ResSection // the kinds shown as kubectl prints them
}

// PodPageSize is how many pod rows the overview shows at once: a cluster of thousands of
// pods costs the page, its HTML and its websocket no more than this many rows.
const PodPageSize = 100

// PodPage is one page of the overview's pods: rows Off.. of the Matched pods whose row
// contains Q (all Total pods when Q is empty), in namespace/name order.
type PodPage struct {
	Rows                []PodRow
	Off, Matched, Total int
	Q                   string
}

// First and Last number the page's rows from 1, as "1–100 of 2000" says them.
func (p PodPage) First() int {
	if len(p.Rows) == 0 {
		return 0
	}
	return p.Off + 1
}

func (p PodPage) Last() int { return p.Off + len(p.Rows) }

// Matches says whether the pod's row shows q (lower case): its namespace, name, status,
// node, IP, owner or a label, as the filter box matches the other tables' text.
func (r PodRow) Matches(q string) bool {
	if q == "" {
		return true
	}
	s := strings.ToLower(strings.Join([]string{r.Namespace, r.Name, r.Status, r.Ready, r.Node, r.IP, r.Owner}, " "))
	for _, l := range r.Labels {
		s += " " + strings.ToLower(l.Key+"="+l.Value)
	}
	return strings.Contains(s, q)
}

// RowID names the DOM element of an object's row, so live updates can find it.
func RowID(kind, ns, name string) string {
	return "row-" + strings.ToLower(kind) + "-" + ns + "-" + name
}

// ObjURL is the page of one object; cluster-scoped objects use "_" as namespace.
func ObjURL(kind, ns, name string) string {
	if ns == "" {
		ns = "_"
	}
	return "/o/" + strings.ToLower(kind) + "/" + ns + "/" + name
}

func labelsOf(m map[string]string) []Label {
	out := make([]Label, 0, len(m))
	for k, v := range m {
		out = append(out, Label{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Millis is the instant an age counts from, in Unix milliseconds (0 when unknown). Ages
// are rendered with it, so the page ticks them on (the server renders a row only when the
// object changes, and an unchanged pod would read "1s" for ever).
func Millis(t metav1.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Age formats like kubectl's AGE column, at now from the dashboard's clock.
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// PodStatus is the STATUS column kubectl shows: a waiting/terminated reason wins over phase.
func PodStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.InitContainerStatuses {
		if c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing" {
			return "Init:" + c.State.Waiting.Reason
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting != nil && c.State.Waiting.Reason != "" {
			reason = c.State.Waiting.Reason
		} else if c.State.Terminated != nil && c.State.Terminated.Reason != "" {
			reason = c.State.Terminated.Reason
		}
	}
	if reason == "" {
		reason = "Pending"
	}
	return reason
}

// StatusColor is the colour class of a kubectl STATUS: ok, warn or bad.
func StatusColor(s string) string { return statusColor(s) }

func statusColor(s string) string {
	switch s {
	case "Running", "Completed", "Succeeded", "Ready", "Active":
		return "ok"
	case "Pending", "ContainerCreating", "PodInitializing", "Terminating", "Init:ContainerCreating":
		return "warn"
	}
	return "bad"
}

// PodRowOf converts a pod.
func PodRowOf(p *corev1.Pod, now time.Time) PodRow {
	ready, restarts := 0, int32(0)
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
		restarts += c.RestartCount
	}
	r := PodRow{
		Namespace: p.Namespace, Name: p.Name, Status: PodStatus(p), Node: p.Spec.NodeName, IP: p.Status.PodIP,
		Ready: fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), Restarts: restarts,
		Age: Age(p.CreationTimestamp, now), AgeAt: Millis(p.CreationTimestamp), Labels: labelsOf(p.Labels),
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		r.Owner, r.OwnerKind = ref.Name, ref.Kind
	}
	r.Color = statusColor(r.Status)
	if r.Status == "Running" && ready < len(p.Spec.Containers) {
		r.Color = "warn"
	}
	if r.Node == "" && r.Status == "Pending" {
		r.Node = "(unscheduled)"
	}
	return r
}

// NodeRowOf converts a node; pods is how many pods are bound to it.
func NodeRowOf(n *corev1.Node, pods int, now time.Time) NodeRow {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	r := NodeRow{Name: n.Name, Age: Age(n.CreationTimestamp, now), AgeAt: Millis(n.CreationTimestamp), Unschedulable: n.Spec.Unschedulable,
		Pods: pods, Version: n.Status.NodeInfo.KubeletVersion, Color: statusColor(status)}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			r.IP = a.Address
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
		r.Color = "warn"
	}
	r.Status = status
	return r
}

// RSRowOf converts a ReplicaSet.
func RSRowOf(rs *appsv1.ReplicaSet, now time.Time) RSRow {
	desired := int32(1)
	if rs.Spec.Replicas != nil {
		desired = *rs.Spec.Replicas
	}
	r := RSRow{Namespace: rs.Namespace, Name: rs.Name, Desired: desired, Current: rs.Status.Replicas,
		Ready: rs.Status.ReadyReplicas, Age: Age(rs.CreationTimestamp, now), Labels: labelsOf(rs.Labels)}
	if rs.Spec.Selector != nil {
		r.Selector = metav1.FormatLabelSelector(rs.Spec.Selector)
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		r.Owner = ref.Name
	}
	r.Color = countColor(desired, rs.Status.Replicas, rs.Status.ReadyReplicas)
	return r
}

func countColor(desired, current, ready int32) string {
	switch {
	case desired == 0 && current == 0:
		return "idle"
	case ready == desired && current == desired:
		return "ok"
	default:
		return "warn"
	}
}

// DeployRowOf converts a Deployment.
func DeployRowOf(d *appsv1.Deployment, now time.Time) DeployRow {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	r := DeployRow{Namespace: d.Namespace, Name: d.Name, Desired: desired, Ready: d.Status.ReadyReplicas,
		UpToDate: d.Status.UpdatedReplicas, Available: d.Status.AvailableReplicas, Age: Age(d.CreationTimestamp, now)}
	if d.Spec.Selector != nil {
		r.Selector = metav1.FormatLabelSelector(d.Spec.Selector)
	}
	r.Color = countColor(desired, d.Status.Replicas, d.Status.ReadyReplicas)
	return r
}

// SvcRowOf converts a Service and its Endpoints (nil when none yet).
func SvcRowOf(s *corev1.Service, ep *corev1.Endpoints, now time.Time) SvcRow {
	r := SvcRow{Namespace: s.Namespace, Name: s.Name, Type: string(s.Spec.Type), ClusterIP: s.Spec.ClusterIP,
		Age: Age(s.CreationTimestamp, now)}
	var ports []string
	for _, p := range s.Spec.Ports {
		v := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort != 0 {
			v = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
		ports = append(ports, v)
	}
	r.Ports = strings.Join(ports, ",")
	var sel []string
	for _, l := range labelsOf(s.Spec.Selector) {
		sel = append(sel, l.Key+"="+l.Value)
	}
	r.Selector = strings.Join(sel, ",")
	if ep != nil {
		for _, ss := range ep.Subsets {
			r.Ready += len(ss.Addresses)
			r.NotReady += len(ss.NotReadyAddresses)
		}
	}
	switch {
	case len(s.Spec.Selector) == 0:
		r.Color = "idle"
	case r.Ready > 0:
		r.Color = "ok"
	default:
		r.Color = "warn"
	}
	return r
}

// StepView is one animated step in the timeline: an arrow From → To.
type StepView struct {
	Seq                                           int
	Flow, Title, Component, Node, Kind, Namespace string
	Name, Owner, Time, ResourceVersion, Evidence  string
	Diff                                          string
	N, RSN                                        int
	From, To, Style, Reason, Phase                string
	Fail                                          bool
	Story                                         int
	StoryTitle, Obj, OwnerKey                     string
	TitleKey, StoryTitleKey                       string // Title and StoryTitle in the catalogue, with their args
	TitleArgs, StoryTitleArgs                     []any
	Ev                                            i18n.Msg // Evidence in the catalogue, said in the page's language
	Decision                                      *DecisionView
	Lazy                                          bool // body left out: the page fetches it when opened
}

// DecisionView is the scheduler's decision behind a bind (or failed scheduling) step.
type DecisionView struct {
	Chosen, Message string
	Why             i18n.Keyed // why the chosen node won, said in the page's language
	Nodes           []NodeDecision
}

// NodeDecision is how one node fared: filtered out (with kube-scheduler's reasons) or scored.
type NodeDecision struct {
	Node             string
	Feasible, Chosen bool
	Reasons, Scores  []string
	Score            int64
}

// HeldView is a step the Gate is holding in step mode: the arrow it is about to draw,
// its number and what the component will do, and why.
type HeldView struct {
	Component, Action, Kind, Namespace, Name, Node, Message string
	Flow, From, To, Style, Sentence                         string
	N                                                       int
	Key                                                     string // the sentence in the catalogue, with Args
	Args                                                    []any
}

// stepTitle is the step's title in the page's language.
func stepTitle(ctx context.Context, s StepView) string {
	if s.TitleKey == "" {
		return s.Title
	}
	return i18n.T(ctx, s.TitleKey, s.TitleArgs...)
}

// stepEvidence is the step's evidence in the page's language.
func stepEvidence(ctx context.Context, s StepView) string {
	if s.Ev.Key == "" {
		return s.Evidence
	}
	return s.Ev.In(i18n.LangOf(ctx))
}

// decisionWhy is why the scheduler chose the node, in the page's language ("" if it
// chose none).
func decisionWhy(ctx context.Context, d DecisionView) string {
	if d.Why == nil || d.Chosen == "" {
		return ""
	}
	key, args := d.Why.Msg()
	if key == "" {
		return ""
	}
	return i18n.T(ctx, key, args...)
}

// storyTitle is the title of the step's story in the page's language.
func storyTitle(ctx context.Context, s StepView) string {
	if s.StoryTitleKey == "" {
		return s.StoryTitle
	}
	return i18n.T(ctx, s.StoryTitleKey, s.StoryTitleArgs...)
}

// heldSay is the held action's sentence in the page's language.
func heldSay(ctx context.Context, h HeldView) string { return h.Say(ctx) }

// Say is the held action's sentence in ctx's language.
func (h HeldView) Say(ctx context.Context) string {
	if h.Key == "" {
		return h.Sentence
	}
	return i18n.T(ctx, h.Key, h.Args...)
}

// Condition is one status condition.
type Condition struct {
	Type, Status, Reason, Message, Age string
	AgeAt                              int64 // see Millis
}

// Ref links to another object.
type Ref struct {
	Kind, Namespace, Name, Note string
	Verb                        string // "owns" unless said otherwise ("runs" on a node)
}

// EventView is one Event about an object.
type EventView struct {
	Type, Reason, Message, Source, Age string
	Count                              int32
	AgeAt                              int64 // see Millis
}

// Endpoint is one Service endpoint with its traffic.
type Endpoint struct {
	IP, Pod, Node, Port string
	Ready               bool
	Conns, BytesIn      uint64
	BytesOut            uint64
	Active              int64
	HasTraffic          bool
	Bytes               bool // Active and bytes are counted (the userspace proxy; iptables counts connections only)
}

// Object is everything the object page shows.
type Object struct {
	Kind, Namespace, Name, YAML, Status, Color, ResourceVersion, Age string
	Labels                                                           []Label
	Conditions                                                       []Condition
	Owners, Owned                                                    []Ref
	Events                                                           []EventView
	Containers                                                       []string
	Replicas                                                         int32
	Scalable, IsPod, IsNode, IsService, Unschedulable                bool
	Endpoints                                                        []Endpoint
	Kill, ProbeBreak                                                 bool  // break-it actions available
	AgeAt                                                            int64 // see Millis
	Facts                                                            []Label
	Rollout                                                          *rollout.View  // a Deployment's history and bar
	RSOwner                                                          *rollout.Owner // a ReplicaSet's controlling Deployment
	Probes                                                           *probes.View   // a pod's probes, explained
	Traffic                                                          *traffic.View  // a Service's traffic card (page only, not live)
	JobIndexes                                                       *JobIndexes    // an Indexed Job's completed and failed indexes
}

// JobIndexes is an Indexed Job's status by index: status.completedIndexes and, with
// backoffLimitPerIndex, status.failedIndexes ("1,3-5").
type JobIndexes struct {
	Completions       int32
	Completed, Failed string
	PerIndex          bool // backoffLimitPerIndex is set, so indexes can fail
}

// Example is one starting point in the editor.
type Example struct {
	ID, Title, YAML string
}
