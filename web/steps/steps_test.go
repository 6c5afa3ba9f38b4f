package steps

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

	if got := summary(all); got != "p1 p2 p3 p4 p5" {
		t.Fatalf("steps %q, want p1..p5", got)
	}
	if all[1].Node != "node-1" || all[1].ResourceVersion != "11" || !strings.Contains(all[1].Diff, "+   nodeName: node-1") {
		t.Errorf("bind step %+v", all[1])
	}
	if all[4].Component != "kubelet" || all[4].ResourceVersion != "14" || !strings.Contains(all[4].Evidence, "Running") {
		t.Errorf("status step %+v", all[4])
	}
	for i, s := range all {
		if s.Seq != i+1 || s.Name != "echo" {
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
	if got := d.Pod("ADDED", nil, p); len(got) != 0 {
		t.Errorf("got %q, want no scheduler steps", summary(got))
	}
	// The kubelet's steps that follow are still real.
	p2 := p.DeepCopy()
	p2.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app"}}
	if got := d.Pod("MODIFIED", p, p2); summary(got) != "p3 p4" {
		t.Errorf("got %q, want p3 p4", summary(got))
	}
	// A pod already running when the dashboard starts produces no steps.
	q := newPod("1")
	q.UID = "u2"
	q.Spec.NodeName = "node-1"
	q.Status.Phase = corev1.PodRunning
	if got := d.Pod("ADDED", nil, q); len(got) != 0 {
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

func TestReplicaSetReconcile(t *testing.T) {
	d := New(clock())
	r1 := rsObj("5", 1, 1)
	r2 := rsObj("6", 3, 1) // scaled 1 -> 3
	got := d.ReplicaSet("MODIFIED", r1, r2)
	if summary(got) != "r1" || !strings.Contains(got[0].Evidence, "spec.replicas 3, status.replicas 1") {
		t.Fatalf("scale: %+v", got)
	}
	// Status catching up is not a new wish.
	if got := d.ReplicaSet("MODIFIED", r2, rsObj("7", 3, 2)); len(got) != 0 {
		t.Errorf("status progress produced %q", summary(got))
	}
	// The controller's pod: reconcile step 2, then pod steps that map to 3, 4, 5.
	tr := true
	p := newPod("8")
	p.Name = "echo-rs-abcde"
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", UID: "rs1", Controller: &tr}}
	got = d.Pod("ADDED", nil, p)
	if summary(got) != "r2 p1" || got[0].Owner != "ReplicaSet/echo-rs" {
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
	// Scale down 3 -> 1 while it has 3: deletion is the controller's, reconcile step 2.
	d.ReplicaSet("MODIFIED", rsObj("9", 3, 3), rsObj("10", 1, 3))
	p3 := p2.DeepCopy()
	now := metav1.Now()
	p3.DeletionTimestamp = &now
	got = d.Pod("MODIFIED", p2, p3)
	if summary(got) != "r2" || !strings.Contains(got[0].Title, "deletes pod echo-rs-abcde (has 3, wants 1)") {
		t.Errorf("delete: %q %+v", summary(got), got)
	}
	// The final DELETED does not report it again.
	if got := d.Pod("DELETED", nil, p3); len(got) != 0 {
		t.Errorf("DELETED after deletionTimestamp: %q", summary(got))
	}
}

// Deleting a pod by hand ("Break it") while the ReplicaSet is satisfied: the controller
// sees desired ≠ current.
func TestExternalDeletion(t *testing.T) {
	d := New(clock())
	d.ReplicaSet("ADDED", nil, rsObj("1", 2, 2))
	tr := true
	p := newPod("5")
	p.Name = "echo-rs-x"
	p.Spec.NodeName = "node-1"
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", UID: "rs1", Controller: &tr}}
	got := d.Pod("DELETED", nil, p)
	if summary(got) != "r1" || got[0].Kind != "ReplicaSet" || got[0].Name != "echo-rs" || !strings.Contains(got[0].Title, "echo-rs-x was deleted") {
		t.Errorf("external deletion: %q %+v", summary(got), got)
	}
}

// Relabeling a pod out of its ReplicaSet: the release is what the controller reacts to.
func TestReleasedPod(t *testing.T) {
	d := New(clock())
	tr := true
	p := newPod("1")
	p.Spec.NodeName = "node-1"
	p.Status.Phase = corev1.PodRunning
	p.Labels = map[string]string{"app": "echo"}
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", UID: "rs1", Controller: &tr}}
	d.Pod("ADDED", nil, p)
	p2 := p.DeepCopy()
	p2.Labels = nil
	p2.OwnerReferences = nil
	got := d.Pod("MODIFIED", p, p2)
	if summary(got) != "r1" || got[0].Name != "echo-rs" || !strings.Contains(got[0].Title, "released") {
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
