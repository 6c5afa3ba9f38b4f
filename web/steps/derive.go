package steps

import (
	"strings"
	"time"
	"webkube/web/i18n"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Flows. Each is a numbered sequence of arrows, as the notes draw them.
const (
	FlowYou        = "you"        // the learner's own write (apply, scale, relabel, delete): N 0
	FlowPod        = "pod"        // Pod creation, steps 1-5
	FlowReplicaSet = "replicaset" // ReplicaSet reconcile, steps 1-2 (3-5 are the new pods' own)
	FlowDelete     = "delete"     // a pod's deletion: 2 kubelet sees it, 3 stops the containers, 4 API removes it
	FlowGC         = "gc"         // garbage collector: 1 sees the owner gone, 2 deletes a dependent
	FlowDeployment = "deployment" // deployment controller: 1 sees the change, 2 creates or scales a ReplicaSet
	FlowEndpoints  = "endpoints"  // readiness: 1 kubelet reports, 2 endpoints controller sees, 3 writes Endpoints
)

// Arrow styles: a watch notification (API server → component), a write (component → API
// server), and the kubelet's calls to containerd over CRI.
const (
	Watch = "watch"
	Write = "write"
	CRI   = "cri"
)

// Components, as the diagram names its boxes; kubelets and containerds are per node.
const (
	Client     = "client"
	APIServer  = "apiserver"
	Scheduler  = "scheduler"
	RSCtrl     = "replicaset-controller"
	DeployCtrl = "deployment-controller"
	GC         = "garbage-collector"
	EPCtrl     = "endpoints-controller"
)

// Kubelet names a node's kubelet box.
func Kubelet(node string) string { return "kubelet/" + node }

// Containerd names a node's containerd box.
func Containerd(node string) string { return "containerd/" + node }

// Step is one animated step: one arrow between two components, backed by one observed
// object change (its resourceVersion and diff).
type Step struct {
	Seq       int       `json:"seq"`
	Flow      string    `json:"flow"`
	N         int       `json:"n"`
	Title     string    `json:"title"` // the English; TitleKey and TitleArgs render it in a page's language
	TitleKey  string    `json:"-"`
	TitleArgs []any     `json:"-"`
	Component string    `json:"component"` // scheduler, controller-manager, kubelet, containerd, client
	From      string    `json:"from"`      // the arrow's tail: one of the components above
	To        string    `json:"to"`        // its head
	Style     string    `json:"style"`     // watch, write, cri
	Fail      bool      `json:"fail,omitempty"`
	Reason    string    `json:"reason,omitempty"` // a failure's reason: FailedScheduling, ErrImagePull, ...
	Phase     string    `json:"phase,omitempty"`  // the pod token after this step: Pending, Bound, Running, Failed, Terminating, Gone
	Node      string    `json:"node,omitempty"`
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner,omitempty"` // "ReplicaSet/echo-rs" for pods a ReplicaSet made
	Time      time.Time `json:"time"`
	// StoryKey is the object ("Kind/ns/name") whose story this step continues; Binds are
	// objects whose later steps belong to the same story; Root, when set, starts a new
	// story with that title (a learner's action).
	StoryKey        string   `json:"-"`
	Binds           []string `json:"-"`
	Root            string   `json:"-"`
	Story           int      `json:"story"`
	StoryTitle      string   `json:"storyTitle"`
	StoryTitleKey   string   `json:"-"` // the story title in the catalogue, with StoryTitleArgs ("" when it is an object's name)
	StoryTitleArgs  []any    `json:"-"`
	ResourceVersion string   `json:"resourceVersion"`
	Evidence        string   `json:"evidence"` // the watch event behind it: "MODIFIED Pod default/echo: spec.nodeName set"
	Ev              i18n.Msg `json:"-"`        // Evidence as a catalogue key; mk sets Evidence, the English, from it
	Diff            string   `json:"diff,omitempty"`
}

// Key names an object for stories: "Pod/default/echo".
func Key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// Pod creation titles, as the seed words them.
var podTitles = [6]string{"",
	i18n.K("step.pod_1"),
	i18n.K("step.pod_2"),
	i18n.K("step.pod_3"),
	i18n.K("step.pod_4"),
	i18n.K("step.pod_5"),
}

// say sets the step's title from a catalogue key and its arguments, so each page can say
// it in its own language; Title is the English, which tests and logs use.
func (s *Step) say(key string, args ...any) {
	s.TitleKey, s.TitleArgs, s.Title = key, args, i18n.Tr("en", key, args...)
}

// titled is s with its title said from key and args.
func (s Step) titled(key string, args ...any) Step {
	s.say(key, args...)
	return s
}

// root makes the step start a story titled as the step is.
func (s Step) root() Step {
	s.Root = s.Title
	return s
}

// TitleIn is the step's title in lang.
func (s Step) TitleIn(lang string) string {
	if s.TitleKey == "" {
		return s.Title
	}
	return i18n.Tr(lang, s.TitleKey, s.TitleArgs...)
}

// EvidenceIn is the step's evidence in lang: Kubernetes names, field paths and Event
// messages stay as they are, the words around them are said in lang.
func (s Step) EvidenceIn(lang string) string {
	if s.Ev.Key == "" {
		return s.Evidence
	}
	return s.Ev.In(lang)
}

// evFn words the evidence of one watch event: a catalogue key and its arguments, inside
// "<TYPE> <Kind> <ns>/<name>: …".
type evFn func(key string, args ...any) i18n.Msg

// evidenceOf is the evFn for one watch event on one object.
func evidenceOf(eventType, kind, ns, name string) evFn {
	return func(key string, args ...any) i18n.Msg {
		return i18n.Msg{Key: i18n.K("ev.event_on"), Args: []any{eventType, kind, ns, name, i18n.Msg{Key: key, Args: args}}}
	}
}

// StoryTitleIn is the title of the step's story in lang.
func (s Step) StoryTitleIn(lang string) string {
	if s.StoryTitleKey == "" {
		return s.StoryTitle
	}
	return i18n.Tr(lang, s.StoryTitleKey, s.StoryTitleArgs...)
}

// Deriver keeps per-object progress so each step is reported once and in order.
// It is not safe for concurrent use; feed it from one goroutine.
type Deriver struct {
	seq     int
	pods    map[types.UID]*podProgress
	rss     map[string]rsState                // "namespace/name"
	owned   map[string]map[types.UID]struct{} // ReplicaSet "namespace/name" -> its live pods
	deps    map[string]depState               // Deployment "namespace/name"
	events  map[types.UID]int32               // Event uid -> count already turned into steps
	ownedBy map[types.UID]string              // live pod -> its ReplicaSet "namespace/name"
	now     func() time.Time
	seen    map[string]seenOwner        // ReplicaSets and Deployments by Key, as last derived
	waiting []waiting                   // changes held for their owner's (see hold)
	jobs    map[string]*batchv1.Job     // live Jobs by Key, as last derived (see jobDeletes)
	crons   map[string]*batchv1.CronJob // live CronJobs by Key (see cronPrunes)

	// Versions, when set, tells what the informer caches hold (see hold).
	Versions Versions
	// Latest, when set, reads an owner from the API server (see hold): only for a pod's
	// deletion that would otherwise be told as the learner's.
	Latest Latest
	// Listing is set while the dashboard feeds an informer's initial list: nothing is
	// held then, since those steps are not shown.
	Listing bool
}

type podProgress struct {
	last     int
	owner    string // "ReplicaSet/name"
	node     string
	deleting bool            // its deletion was reported
	done     bool            // Succeeded or Failed, as last seen (a Job no longer counts it)
	fails    map[string]bool // failure steps reported: "reason/container/restarts"
	ready    bool
	obj      *corev1.Pod // as last seen (a Job's pods: their indexes and restarts)
}

type rsState struct {
	desired, current int32
	deploy           string // owning Deployment's name, if any
	deleting         bool
}

type depState struct {
	replicas   int32
	generation int64
	deleting   bool
}

// New returns a Deriver; now stamps steps whose evidence has no time of its own.
func New(now func() time.Time) *Deriver {
	return &Deriver{pods: map[types.UID]*podProgress{}, rss: map[string]rsState{},
		owned: map[string]map[types.UID]struct{}{}, deps: map[string]depState{},
		events: map[types.UID]int32{}, ownedBy: map[types.UID]string{}, now: now, seen: map[string]seenOwner{},
		jobs: map[string]*batchv1.Job{}, crons: map[string]*batchv1.CronJob{}}
}

// made, when set (by this package's tests), sees every step mk makes.
var made func(Step)

// mk numbers a step, stamps it and names its component from the arrow's non-API end.
func (d *Deriver) mk(s Step) Step {
	d.seq++
	s.Seq = d.seq
	if s.Ev.Key != "" {
		s.Evidence = s.Ev.In("en")
	}
	if made != nil {
		defer func() { made(s) }()
	}
	if s.Time.IsZero() {
		s.Time = d.now()
	}
	if s.Component == "" && s.Style == CRI {
		s.Component = "containerd" // the kubelet asks; containerd does the work
	}
	if s.Component == "" {
		end := s.From
		if end == APIServer {
			end = s.To
		}
		switch {
		case strings.HasPrefix(end, "kubelet/"):
			s.Component = "kubelet"
		case strings.HasPrefix(end, "containerd/"):
			s.Component = "containerd"
		case end == Scheduler || end == Client:
			s.Component = end
		default:
			s.Component = "controller-manager"
		}
	}
	return s
}

// Pod derives steps from a pod watch event. old is nil for ADDED; for DELETED, pass the
// last known object as pod.
// A pod whose ReplicaSet's change has not arrived yet is held until it has (see hold).
func (d *Deriver) Pod(eventType string, old, pod *corev1.Pod) []Step {
	if pod == nil || d.hold("Pod", eventType, old, pod, pod) {
		return nil
	}
	return d.podNow(eventType, old, pod)
}

func (d *Deriver) podNow(eventType string, old, pod *corev1.Pod) []Step {
	out := d.pod(eventType, old, pod)
	d.track(eventType, pod)
	// The diff costs two YAML renderings; most pod events (status churn) yield no step.
	if len(out) > 0 {
		diff := objectDiff(old, pod)
		for i := range out {
			if out[i].Diff == "" {
				out[i].Diff = diff
			}
		}
	}
	return out
}

func ownerOf(o metav1.Object, kind string) string {
	if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == kind {
		return ref.Name
	}
	return ""
}

func (d *Deriver) pod(eventType string, old, pod *corev1.Pod) []Step {
	ev := evidenceOf(eventType, "Pod", pod.Namespace, pod.Name)
	rs := ownerOf(pod, "ReplicaSet")
	owner := ""
	if rs != "" {
		owner = "ReplicaSet/" + rs
	}
	if eventType == "DELETED" {
		return d.podGone(pod, rs, ev)
	}
	var out []Step
	pp := d.pods[pod.UID]
	if pp == nil {
		pp = &podProgress{owner: owner, fails: map[string]bool{}}
		d.pods[pod.UID] = pp
		if eventType == "ADDED" {
			out = append(out, d.created(pod, rs, ev))
		}
		if pod.Spec.NodeName != "" {
			// Bound before we saw it (we joined late, or it was created with nodeName):
			// whatever it has reached did not happen in front of us.
			pp.last = reachedOf(pod)
			pp.node = pod.Spec.NodeName
			return out
		}
	}
	pp.owner = owner
	if old != nil {
		out = append(out, d.relabelled(old, pod, ev)...)
	}
	if old != nil && old.DeletionTimestamp == nil && pod.DeletionTimestamp != nil && !pp.deleting {
		pp.deleting = true
		out = append(out, d.deletion(pod, rs, ev)...)
		return append(out, d.rsSeesDeleted(pod, rs, ev)...)
	}
	if pod.DeletionTimestamp != nil {
		return out
	}
	wasRunning := pp.last == 5
	out = append(out, d.progress(eventType, pod, pp, ev)...)
	out = append(out, d.podFailures(old, pod, pp, ev)...)
	out = append(out, d.readiness(old, pod, pp, wasRunning, ev)...)
	return out
}

// created is the write that made the pod: the learner's, or its ReplicaSet's (step 2).
func (d *Deriver) created(pod *corev1.Pod, rs string, ev evFn) Step {
	key := Key("Pod", pod.Namespace, pod.Name)
	if rs != "" {
		st := d.rss[pod.Namespace+"/"+rs]
		has := len(d.owned[pod.Namespace+"/"+rs])
		return d.mk(Step{Flow: FlowReplicaSet, N: 2, From: RSCtrl, To: APIServer, Style: Write, Phase: "Pending",
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: "ReplicaSet/" + rs,
			StoryKey: Key("ReplicaSet", pod.Namespace, rs), Binds: []string{key},
			ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("ev.created_owned"), rs)}.
			titled(i18n.K("step.rs_creates"), rs, pod.Name, has, st.desired))
	}
	// A StatefulSet's, DaemonSet's or Job's pod is its controller's write, not the learner's.
	if s, ok := d.controllerCreated(pod, ev); ok {
		return s
	}
	return d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write, Phase: "Pending",
		StoryKey: key, Binds: []string{key}, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name,
		ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("ev.created_client"))}.
		titled(i18n.K("step.you_created_pod"), pod.Name).root())
}

// progress reports the creation steps the pod has newly reached.
func (d *Deriver) progress(eventType string, pod *corev1.Pod, pp *podProgress, ev evFn) []Step {
	reached, why := 0, i18n.Msg{}
	switch {
	case pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		reached, why = 5, i18n.Msg{Key: i18n.K("ev.phase"), Args: []any{string(pod.Status.Phase)}}
	case startedContainer(pod):
		reached, why = 4, i18n.Msg{Key: i18n.K("ev.statuses")}
	case pod.Spec.NodeName != "" && (pod.Status.HostIP != "" || hasCondition(pod, corev1.PodInitialized) ||
		hasCondition(pod, corev1.ContainersReady) || hasContainerStatus(pod)):
		reached, why = 3, i18n.Msg{Key: i18n.K("ev.kubelet_status")}
	case pod.Spec.NodeName != "":
		reached, why = 2, i18n.Msg{Key: i18n.K("ev.node_set"), Args: []any{pod.Spec.NodeName}}
	case eventType == "ADDED" || pp.last == 0:
		reached, why = 1, i18n.Msg{Key: i18n.K("ev.node_empty")}
	}
	var out []Step
	for n := pp.last + 1; n <= reached; n++ {
		w := ev(why.Key, why.Args...)
		if n < reached {
			w = ev(i18n.K("ev.implied"), why)
		}
		if n == 2 && reached > 2 {
			w = ev(i18n.K("ev.node_set"), pod.Spec.NodeName)
		}
		out = append(out, d.podStep(n, pod, pp.owner, w))
	}
	if reached > pp.last {
		pp.last = reached
	}
	if pod.Spec.NodeName != "" {
		pp.node = pod.Spec.NodeName
	}
	return out
}

var podArrows = [6][3]string{{}, {APIServer, Scheduler, Watch}, {Scheduler, APIServer, Write},
	{APIServer, "kubelet", Watch}, {"kubelet", "containerd", CRI}, {"kubelet", APIServer, Write}}

var podPhases = [6]string{"", "Pending", "Bound", "Bound", "Bound", "Running"}

func (d *Deriver) podStep(n int, pod *corev1.Pod, owner string, evidence i18n.Msg) Step {
	a := podArrows[n]
	node := pod.Spec.NodeName
	end := func(c string) string {
		switch c {
		case "kubelet":
			return Kubelet(node)
		case "containerd":
			return Containerd(node)
		}
		return c
	}
	phase := podPhases[n]
	if n == 5 && pod.Status.Phase != "" {
		phase = string(pod.Status.Phase)
	}
	return d.mk(Step{Flow: FlowPod, N: n, From: end(a[0]), To: end(a[1]), Style: a[2], Phase: phase,
		Node: node, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: owner,
		StoryKey: Key("Pod", pod.Namespace, pod.Name), ResourceVersion: pod.ResourceVersion, Ev: evidence}.
		titled(podTitles[n]))
}

// Event derives steps from a core/v1 Event: kubelet events (Pulling, Pulled, Created,
// Started) are the clearest evidence of steps 3 and 4; FailedScheduling, failed pulls and
// probes are failures drawn in red.
func (d *Deriver) Event(e *corev1.Event, pod *corev1.Pod) []Step {
	if e == nil || e.InvolvedObject.Kind != "Pod" {
		return nil
	}
	if seen, ok := d.events[e.UID]; ok && e.UID != "" && seen >= e.Count {
		return nil
	}
	d.events[e.UID] = e.Count
	if f := d.eventFailure(e, pod); f != nil {
		return f
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
	if pp == nil || pp.last < 2 || pp.last >= target || pp.deleting {
		return nil
	}
	p := eventPod(e, pod)
	var out []Step
	for n := pp.last + 1; n <= target; n++ {
		s := d.podStep(n, p, pp.owner, i18n.Msg{Key: i18n.K("ev.event"), Args: []any{e.Reason, e.Message}})
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

func eventPod(e *corev1.Event, pod *corev1.Pod) *corev1.Pod {
	if pod != nil {
		return pod
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: e.InvolvedObject.Name,
		Namespace: e.InvolvedObject.Namespace, UID: e.InvolvedObject.UID}}
}

// startedContainer: some container got past waiting (running or terminated), so
// containerd did create it. A container still waiting on its image is not step 4.
func startedContainer(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}
