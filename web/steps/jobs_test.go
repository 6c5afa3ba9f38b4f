package steps

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
