package steps

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func jobObj(name string, owner *metav1.OwnerReference) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "j1", ResourceVersion: "5"},
		Spec: batchv1.JobSpec{Parallelism: ptrTo(int32(2)), Completions: ptrTo(int32(3))}}
	if owner != nil {
		j.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return j
}

// A Job's pod is the Job controller's write in the Job's story, not "you created Pod …".
func TestJobPodIsTheJobControllers(t *testing.T) {
	d := New(clock())
	d.Job("ADDED", nil, jobObj("pi", nil)) // its pods wait for it otherwise
	p := newPod("10")
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "j1", Controller: ptrTo(true)}}
	ss := d.Pod("ADDED", nil, p)
	if len(ss) == 0 {
		t.Fatal("no step")
	}
	s := ss[0]
	if s.Flow != FlowJob || s.N != 2 || s.From != JobCtrl || s.To != APIServer || s.Style != Write || s.Root != "" ||
		s.Owner != "Job/pi" || s.StoryKey != Key("Job", "default", "pi") || s.Title != "Job/pi creates pod echo" {
		t.Fatalf("creation step %+v", s)
	}
}

// A Job the learner applied: their write starts its story, then the Job controller sees it.
// A CronJob's Job: the CronJob controller's write starts a story of that run.
func TestJobCreation(t *testing.T) {
	d := New(clock())
	ss := d.Job("ADDED", nil, jobObj("pi", nil))
	if got := summary(ss); got != "y0 j1" {
		t.Fatalf("steps %q, want y0 j1", got)
	}
	if ss[0].Root != "you created Job/pi" || ss[0].From != Client || ss[0].Binds[0] != Key("Job", "default", "pi") {
		t.Errorf("your write %+v", ss[0])
	}
	if ss[1].From != APIServer || ss[1].To != JobCtrl || ss[1].Style != Watch || ss[1].StoryKey != Key("Job", "default", "pi") ||
		ss[1].Title != "Job controller sees Job/pi: it wants 2 pod(s) running and has none" {
		t.Errorf("the Job controller's watch %+v", ss[1])
	}
	cj := &metav1.OwnerReference{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "c1", Controller: ptrTo(true)}
	ss = d.Job("ADDED", nil, jobObj("nightly-29000", cj))
	if got := summary(ss); got != "c1 j1" {
		t.Fatalf("steps %q, want c1 j1", got)
	}
	if s := ss[0]; s.From != CronJobCtrl || s.To != APIServer || s.Style != Write || s.Owner != "CronJob/nightly" ||
		s.Root != "CronJob/nightly creates Job nightly-29000: its schedule is due" || s.Component != "controller-manager" {
		t.Errorf("the CronJob controller's write %+v", s)
	}
	if ss[0].TitleIn("ko") == ss[0].Title {
		t.Errorf("Korean title is the English: %q", ss[0].TitleIn("ko"))
	}
	// Only its creation: status changes and deletions are not a Job's creation again.
	if ss := d.Job("MODIFIED", jobObj("pi", nil), jobObj("pi", nil)); len(ss) != 0 {
		t.Errorf("a modified Job gave %d steps", len(ss))
	}
}

func jobPod(name, rv string) *corev1.Pod {
	p := newPod(rv)
	p.Name, p.UID = name, types.UID("uid-"+name)
	p.Spec.NodeName = "node-1"
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "j1", Controller: ptrTo(true)}}
	return p
}

// Deleting a Job (cascade background): the API removes the Job, the garbage collector sees
// its pods without an owner and deletes them, each its step in the Job's story, as for a
// ReplicaSet's pods; not "you deleted Pod …".
func TestJobPodsDeletedByTheGarbageCollector(t *testing.T) {
	d := New(clock())
	d.Job("ADDED", nil, jobObj("pi", nil))
	a, b := jobPod("pi-a", "6"), jobPod("pi-b", "7")
	d.Pod("ADDED", nil, a)
	d.Pod("ADDED", nil, b)
	gone := jobObj("pi", nil)
	gone.ResourceVersion = "9"
	ss := d.Job("DELETED", nil, gone)
	if got := summary(ss); got != "y0 g1" {
		t.Fatalf("Job deleted: steps %q, want y0 g1: %+v", got, ss)
	}
	if ss[0].Root != "you deleted Job/pi" || ss[1].From != APIServer || ss[1].To != GC || ss[1].Style != Watch ||
		ss[1].StoryKey != Key("Job", "default", "pi") || ss[1].Title != "garbage collector sees Job/pi gone: its 2 pods have no owner" {
		t.Errorf("Job deleted: %+v", ss)
	}
	a2 := a.DeepCopy()
	a2.ResourceVersion = "10"
	now := metav1.Now()
	a2.DeletionTimestamp = &now
	ss = d.Pod("MODIFIED", a, a2)
	if got := summary(ss); got != "g2 d2" {
		t.Fatalf("the GC's deletion: steps %q, want g2 d2: %+v", got, ss)
	}
	if s := ss[0]; s.From != GC || s.To != APIServer || s.Style != Write || s.Root != "" || s.Owner != "Job/pi" ||
		s.StoryKey != Key("Job", "default", "pi") || s.Title != "garbage collector deletes pi-a: its owner Job/pi is gone" {
		t.Errorf("the GC's deletion %+v", s)
	}
	// A pod removed at once (no node, or grace 0): the same attribution.
	ss = d.Pod("DELETED", nil, b)
	if len(ss) == 0 || ss[0].From != GC || ss[0].Title != "garbage collector deletes pi-b: its owner Job/pi is gone" {
		t.Errorf("deleted at once: %q %+v", summary(ss), ss)
	}
}

// A pod of a Job that is still there, deleted by hand, is the learner's deletion.
func TestJobPodDeletedByHand(t *testing.T) {
	d := New(clock())
	d.Job("ADDED", nil, jobObj("pi", nil))
	a := jobPod("pi-a", "6")
	d.Pod("ADDED", nil, a)
	ss := d.Pod("DELETED", nil, a)
	if len(ss) == 0 || ss[0].From != Client || ss[0].Root != "you deleted Pod/pi-a" {
		t.Errorf("deleted by hand: %q %+v", summary(ss), ss)
	}
}

// Who deleted a CronJob's Job: the CronJob controller replacing a running one under
// concurrencyPolicy Replace, the garbage collector once the CronJob is gone, else the
// learner (a finished run within the history limit, deleted by hand).
func TestCronJobsJobDeletedBy(t *testing.T) {
	ref := &metav1.OwnerReference{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: "c1", Controller: ptrTo(true)}
	one := int32(1)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "c1"},
		Spec: batchv1.CronJobSpec{ConcurrencyPolicy: batchv1.ReplaceConcurrent, SuccessfulJobsHistoryLimit: &one}}
	deleted := func(d *Deriver, j *batchv1.Job) Step {
		t.Helper()
		d.Job("ADDED", nil, j)
		ss := d.Job("DELETED", nil, j)
		if len(ss) == 0 {
			t.Fatal("no step")
		}
		return ss[0]
	}
	d := New(clock())
	d.CronJob("ADDED", cj)
	if s := deleted(d, jobObj("tick-1", ref)); s.From != CronJobCtrl || s.Flow != FlowCronJob || s.N != 2 || s.Root != "" ||
		s.Title != "CronJob/tick deletes Job tick-1: concurrencyPolicy Replace: a new run replaces the one still running" ||
		s.TitleIn("ko") == s.Title {
		t.Errorf("replaced: %+v (ko %q)", s, s.TitleIn("ko"))
	}
	done := jobObj("tick-2", ref)
	done.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if s := deleted(d, done); s.From != Client || s.Root != "you deleted Job/tick-2" {
		t.Errorf("by hand: %+v", s)
	}
	d.CronJob("DELETED", cj)
	if s := deleted(d, jobObj("tick-3", ref)); s.From != GC || s.Title != "garbage collector deletes Job tick-3: its owner CronJob/tick is gone" {
		t.Errorf("collected: %+v", s)
	}
}
