package steps

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func clock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func newPod(rv string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default", UID: "u1", ResourceVersion: rv}}
}

func summary(ss []Step) string {
	var b []string
	for _, s := range ss {
		b = append(b, fmt.Sprintf("%s%d", s.Flow[:1], s.N))
	}
	return strings.Join(b, " ")
}

// The seed's five steps, one watch event each, as a kubelet with events reports them.
func TestPodCreationFiveSteps(t *testing.T) {
	d := New(clock())
	p1 := newPod("10")
	var all []Step
	all = append(all, d.Pod("ADDED", nil, p1)...)
	p2 := p1.DeepCopy()
	p2.ResourceVersion = "11"
	p2.Spec.NodeName = "node-1"
	all = append(all, d.Pod("MODIFIED", p1, p2)...)
	all = append(all, d.Event(&corev1.Event{Reason: "Pulling", InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u1", Name: "echo", Namespace: "default"}}, p2)...)
	all = append(all, d.Event(&corev1.Event{Reason: "Created", InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u1", Name: "echo", Namespace: "default"}}, p2)...)
	all = append(all, d.Event(&corev1.Event{Reason: "Started", InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u1", Name: "echo", Namespace: "default"}}, p2)...)
	p3 := p2.DeepCopy()
	p3.ResourceVersion = "14"
	p3.Status.Phase = corev1.PodRunning
	p3.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true}}
	all = append(all, d.Pod("MODIFIED", p2, p3)...)
	// A later status change (ready flips) adds nothing.
	p4 := p3.DeepCopy()
	p4.ResourceVersion = "15"
	all = append(all, d.Pod("MODIFIED", p3, p4)...)

	if got := summary(all); got != "y0 p1 p2 p3 p4 p5" {
		t.Fatalf("steps %q, want y0 (your write) p1..p5", got)
	}
	all = all[1:]
	if all[1].From != "scheduler" || all[1].To != "apiserver" || all[1].Style != Write || all[0].Style != Watch {
		t.Errorf("arrows: %+v %+v", all[0], all[1])
	}
	if all[1].Node != "node-1" || all[1].ResourceVersion != "11" || !strings.Contains(all[1].Diff, "+   nodeName: node-1") {
		t.Errorf("bind step %+v", all[1])
	}
	if all[4].Component != "kubelet" || all[4].ResourceVersion != "14" || !strings.Contains(all[4].Evidence, "Running") {
		t.Errorf("status step %+v", all[4])
	}
	for i, s := range all {
		if s.Seq != i+2 || s.Name != "echo" {
			t.Errorf("step %d: seq %d name %q", i, s.Seq, s.Name)
		}
	}
}

// A simulated node that reports Running in the same update that first carries status:
// the missing steps are filled in order from that one event.
func TestPodStepsFilledFromOneStatusUpdate(t *testing.T) {
	d := New(clock())
	p1 := newPod("1")
	d.Pod("ADDED", nil, p1)
	p2 := p1.DeepCopy()
	p2.Spec.NodeName = "node-1"
	d.Pod("MODIFIED", p1, p2)
	p3 := p2.DeepCopy()
	p3.Status.Phase = corev1.PodRunning
	p3.Status.HostIP = "10.0.0.1"
	got := d.Pod("MODIFIED", p2, p3)
	if summary(got) != "p3 p4 p5" {
		t.Fatalf("got %q want p3 p4 p5", summary(got))
	}
}

// A pod created already bound (nodeName in the YAML) never went through the scheduler.
func TestPodCreatedBound(t *testing.T) {
	d := New(clock())
	p := newPod("1")
	p.Spec.NodeName = "node-1"
	if got := d.Pod("ADDED", nil, p); summary(got) != "y0" {
		t.Errorf("got %q, want only your write, no scheduler steps", summary(got))
	}
	// The kubelet's steps that follow are still real; a container status that is still
	// waiting is not containerd having created it.
	p2 := p.DeepCopy()
	p2.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	if got := d.Pod("MODIFIED", p, p2); summary(got) != "p3" {
		t.Errorf("got %q, want p3", summary(got))
	}
	p3 := p2.DeepCopy()
	p3.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	if got := d.Pod("MODIFIED", p2, p3); summary(got) != "p4" {
		t.Errorf("got %q, want p4", summary(got))
	}
	// A pod already running when the dashboard starts produces no flow steps (the
	// dashboard drops its ADDED write too while its caches sync).
	q := newPod("1")
	q.UID = "u2"
	q.Spec.NodeName = "node-1"
	q.Status.Phase = corev1.PodRunning
	if got := d.Pod("ADDED", nil, q); summary(got) != "y0" {
		t.Errorf("running pod at start: %q", summary(got))
	}
}

func rsObj(rv string, spec, status int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-rs", Namespace: "default", UID: "rs1", ResourceVersion: rv},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &spec},
		Status:     appsv1.ReplicaSetStatus{Replicas: status},
	}
}

// Kubelet events that overtake the pod's binding on another watch do not invent steps
// ahead of it.
func TestEventBeforeBinding(t *testing.T) {
	d := New(clock())
	p1 := newPod("1")
	d.Pod("ADDED", nil, p1)
	ev := &corev1.Event{Reason: "Pulling", InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u1", Name: "echo", Namespace: "default"}}
	if got := d.Event(ev, p1); len(got) != 0 {
		t.Errorf("event before binding gave %q", summary(got))
	}
	if got := d.Event(&corev1.Event{Reason: "Scheduled", InvolvedObject: ev.InvolvedObject}, p1); len(got) != 0 {
		t.Errorf("Scheduled event gave %q", summary(got))
	}
	p2 := p1.DeepCopy()
	p2.Spec.NodeName = "node-1"
	if got := d.Pod("MODIFIED", p1, p2); summary(got) != "p2" || got[0].Node != "node-1" {
		t.Errorf("binding gave %q %+v", summary(got), got)
	}
}

func rsPod(name, rv, node string) *corev1.Pod {
	tr := true
	p := newPod(rv)
	p.Name, p.UID = name, types.UID("uid-"+name)
	p.Spec.NodeName = node
	p.Labels = map[string]string{"app": "echo"}
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", UID: "rs1", Controller: &tr}}
	return p
}

func TestReplicaSetReconcile(t *testing.T) {
	d := New(clock())
	d.ReplicaSet("ADDED", nil, rsObj("1", 1, 1))
	d.Pod("ADDED", nil, rsPod("echo-rs-a", "2", "node-1"))
	r1 := rsObj("5", 1, 1)
	r2 := rsObj("6", 3, 1) // scaled 1 -> 3
	got := d.ReplicaSet("MODIFIED", r1, r2)
	if summary(got) != "y0 r1" || got[0].Title != "you scaled echo-rs 1→3" || got[0].Root == "" ||
		!strings.Contains(got[1].Evidence, "spec.replicas 3, status.replicas 1") || !strings.Contains(got[1].Title, "has 1, wants 3") {
		t.Fatalf("scale: %+v", got)
	}
	// Status catching up is not a new wish.
	if got := d.ReplicaSet("MODIFIED", r2, rsObj("7", 3, 2)); len(got) != 0 {
		t.Errorf("status progress produced %q", summary(got))
	}
	// The controller's pods: reconcile step 2, then pod steps that map to 3, 4, 5.
	p := rsPod("echo-rs-b", "8", "")
	got = d.Pod("ADDED", nil, p)
	if summary(got) != "r2 p1" || got[0].Owner != "ReplicaSet/echo-rs" || got[0].From != RSCtrl || got[0].Title != "ReplicaSet/echo-rs creates pod echo-rs-b (has 1, wants 3)" {
		t.Fatalf("created pod: %q %+v", summary(got), got)
	}
	if RSStepOf(got[1]) != 3 {
		t.Errorf("pod step 1 of an RS pod maps to %d, want 3", RSStepOf(got[1]))
	}
	p2 := p.DeepCopy()
	p2.Spec.NodeName = "node-2"
	got = d.Pod("MODIFIED", p, p2)
	if summary(got) != "p2" || RSStepOf(got[0]) != 4 {
		t.Errorf("bind: %q", summary(got))
	}
	d.Pod("ADDED", nil, rsPod("echo-rs-c", "9", "node-1"))
	// Scale down 3 -> 1 while it has 3: deletion is the controller's, reconcile step 2.
	got = d.ReplicaSet("MODIFIED", rsObj("9", 3, 3), rsObj("10", 1, 3))
	if summary(got) != "y0 r1" {
		t.Errorf("scale down: %q", summary(got))
	}
	p3 := p2.DeepCopy()
	now := metav1.Now()
	p3.DeletionTimestamp = &now
	got = d.Pod("MODIFIED", p2, p3)
	if summary(got) != "r2 d2" || got[0].Title != "ReplicaSet/echo-rs deletes echo-rs-b: has 3, wants 1" || got[1].To != "kubelet/node-2" {
		t.Errorf("delete: %q %+v", summary(got), got)
	}
	// The final DELETED: the kubelet stopped the containers, the API removed it; the
	// ReplicaSet still has more than it wants, so no desired ≠ current.
	if got := d.Pod("DELETED", nil, p3); summary(got) != "d3 d4" || got[1].Phase != "Gone" {
		t.Errorf("DELETED after deletionTimestamp: %q", summary(got))
	}
}

// Deleting a pod by hand ("Break it") while the ReplicaSet is satisfied: your write,
// then the controller sees desired ≠ current.
func TestExternalDeletion(t *testing.T) {
	d := New(clock())
	d.ReplicaSet("ADDED", nil, rsObj("1", 2, 2))
	p := rsPod("echo-rs-x", "5", "node-1")
	d.Pod("ADDED", nil, p)
	d.Pod("ADDED", nil, rsPod("echo-rs-y", "6", "node-1"))
	got := d.Pod("DELETED", nil, p)
	last := got[len(got)-1]
	if summary(got) != "y0 d3 d4 r1" || got[0].Root != "you deleted Pod/echo-rs-x" || last.Kind != "ReplicaSet" || last.Name != "echo-rs" || !strings.Contains(last.Title, "echo-rs-x was deleted (has 1, wants 2)") {
		t.Errorf("external deletion: %q %+v", summary(got), got)
	}
}

// Relabeling a pod out of its ReplicaSet: your write, then the controller sees and releases it.
func TestReleasedPod(t *testing.T) {
	d := New(clock())
	d.ReplicaSet("ADDED", nil, rsObj("1", 1, 1))
	p := rsPod("echo-rs-x", "2", "node-1")
	p.Status.Phase = corev1.PodRunning
	d.Pod("ADDED", nil, p)
	p2 := p.DeepCopy()
	p2.Labels = nil
	p2.OwnerReferences = nil
	got := d.Pod("MODIFIED", p, p2)
	if summary(got) != "y0 r1 r2" || got[0].Title != "you removed app from echo-rs-x" || got[2].Title != "ReplicaSet/echo-rs releases echo-rs-x" ||
		!strings.Contains(got[1].Title, "has 0, wants 1") {
		t.Errorf("release: %q %+v", summary(got), got)
	}
}

func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\n"
	want := "  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n"
	if got := LineDiff(a, b); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if LineDiff(a, a) != "" {
		t.Error("equal texts should give empty diff")
	}
}

// Steps from separate watches can arrive out of order; the timeline follows the store's
// revisions.
func TestRingOrdersByResourceVersion(t *testing.T) {
	r := NewRing(10)
	r.Add(Step{Seq: 1, ResourceVersion: "20"}, Step{Seq: 2, ResourceVersion: "12"}, Step{Seq: 3, ResourceVersion: "20"}, Step{Seq: 4, ResourceVersion: "15"})
	var got []int
	for _, s := range r.All() {
		got = append(got, s.Seq)
	}
	if fmt.Sprint(got) != "[2 4 1 3]" {
		t.Errorf("order %v, want [2 4 1 3]", got)
	}
	// Opaque resourceVersions: arrival order.
	if !Before(Step{Seq: 1, ResourceVersion: "b"}, Step{Seq: 2, ResourceVersion: "a"}) {
		t.Error("opaque resourceVersions not in arrival order")
	}
}

func TestRing(t *testing.T) {
	r := NewRing(3)
	for i := 1; i <= 5; i++ {
		r.Add(Step{Seq: i})
	}
	got := r.All()
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Errorf("ring %+v", got)
	}
}

// A derived step keeps its title as a catalogue key and arguments: English in Title (tests
// and logs), and in Korean on a Korean page with the same names and numbers.
func TestStepTitleInKorean(t *testing.T) {
	d := New(clock())
	d.ReplicaSet("ADDED", nil, rsObj("1", 1, 1))
	d.Pod("ADDED", nil, rsPod("echo-rs-a", "2", "node-1"))
	got := d.ReplicaSet("MODIFIED", rsObj("5", 1, 1), rsObj("6", 3, 1))
	got = append(got, d.Pod("ADDED", nil, rsPod("echo-rs-b", "8", ""))...)
	if len(got) != 4 {
		t.Fatalf("steps %q", summary(got))
	}
	for _, c := range []struct {
		s      Step
		key    string
		en, ko string
	}{
		{got[0], "step.you_scaled_rs", "you scaled echo-rs 1→3", "내가 echo-rs의 규모를 1→3(으)로 바꿨습니다"},
		{got[1], "step.rs_sees_diff", "ReplicaSet/echo-rs sees desired ≠ current (has 1, wants 3)",
			"ReplicaSet/echo-rs이(가) 원하는 상태 ≠ 현재 상태를 봅니다 (현재 1개, 원하는 수 3개)"},
		{got[2], "step.rs_creates", "ReplicaSet/echo-rs creates pod echo-rs-b (has 1, wants 3)",
			"ReplicaSet/echo-rs이(가) 파드 echo-rs-b을(를) 만듭니다 (현재 1개, 원하는 수 3개)"},
		{got[3], "step.pod_1", "scheduler sees the unassigned pod", "스케줄러가 노드 없는 파드를 봅니다"},
	} {
		if c.s.TitleKey != c.key || c.s.Title != c.en || c.s.TitleIn("en") != c.en || c.s.TitleIn("ko") != c.ko {
			t.Errorf("%s: key %q title %q, ko %q; want %q %q %q", c.key, c.s.TitleKey, c.s.Title, c.s.TitleIn("ko"), c.key, c.en, c.ko)
		}
	}
}

// The endpoints controller removing a pod from its Service is a failure (red) only when
// the pod failed its readiness probe (its address moved to notReadyAddresses); a pod
// scaled away or deleted simply leaves, in the ordinary colour.
func TestEndpointRemovalRedOnlyWhenNotReady(t *testing.T) {
	addr := func(name string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: "10.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: name}}
	}
	ep := func(rv string, ready, notReady []string) *corev1.Endpoints {
		e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default", ResourceVersion: rv}}
		ss := corev1.EndpointSubset{}
		for _, n := range ready {
			ss.Addresses = append(ss.Addresses, addr(n))
		}
		for _, n := range notReady {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, addr(n))
		}
		e.Subsets = []corev1.EndpointSubset{ss}
		return e
	}
	d := New(clock())
	e1 := ep("1", []string{"a", "b", "c"}, nil)
	d.Endpoints("ADDED", nil, e1)
	e2 := ep("2", []string{"a", "b"}, nil) // c was deleted (scaled away)
	gone := d.Endpoints("MODIFIED", e1, e2)
	e3 := ep("3", []string{"a"}, []string{"b"}) // b failed its readiness probe
	unready := d.Endpoints("MODIFIED", e2, e3)
	if len(gone) != 2 || len(unready) != 2 {
		t.Fatalf("steps: gone %q, unready %q", summary(gone), summary(unready))
	}
	for _, s := range gone {
		if s.Fail || s.Name != "echo" || !strings.Contains(s.Title, "c") {
			t.Errorf("a deleted pod leaving is drawn as a failure: %+v", s)
		}
	}
	for _, s := range unready {
		if !s.Fail || s.Reason != "NotReady" {
			t.Errorf("a pod failing readiness leaving is not red with its reason: %+v", s)
		}
	}
	if gone[0].Title != "endpoints controller sees pod c gone" || unready[0].Title != "endpoints controller sees pod b not ready" {
		t.Errorf("titles %q, %q", gone[0].Title, unready[0].Title)
	}
}

// A StatefulSet's or DaemonSet's pod is created by its controller, not by the learner:
// the creation step is the controller's write, in the set's story.
func TestControllerMadePodsAreTheControllers(t *testing.T) {
	for _, kind := range []string{"StatefulSet", "DaemonSet"} {
		d := New(clock())
		p := newPod("10")
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: "web", UID: "s1", Controller: ptrTo(true)}}
		ss := d.Pod("ADDED", nil, p)
		if len(ss) == 0 {
			t.Fatalf("%s: no step", kind)
		}
		s := ss[0] // the creation; the scheduler's step 1 may follow
		wantFrom := strings.ToLower(kind) + "-controller"
		if s.From != wantFrom || s.To != APIServer || s.Owner != kind+"/web" || s.StoryKey != Key(kind, "default", "web") ||
			s.Title != kind+"/web creates pod echo" || s.Component != "controller-manager" {
			t.Fatalf("%s: step %+v", kind, s)
		}
		if s.TitleIn("ko") != kind+"/web이(가) 파드 echo을(를) 만듭니다" {
			t.Fatalf("%s: Korean title %q", kind, s.TitleIn("ko"))
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
