package stories

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/web/steps"
)

// feed runs watch events through a Deriver and a Tracker, as the dashboard does.
type feed struct {
	d   *steps.Deriver
	t   *Tracker
	out []steps.Step
	now time.Time // the deriver's clock
}

func newFeed() *feed {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &feed{d: steps.New(func() time.Time { return now }), t: New(), now: now}
}

func (f *feed) add(ss []steps.Step) {
	for i := range ss {
		f.t.Assign(&ss[i])
		f.out = append(f.out, ss[i])
	}
}

func rs(rv string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo-rs", Namespace: "default", UID: "rs1", ResourceVersion: rv},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas}}
}

func pod(name, rv string, owned bool, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: rv, Labels: labels},
		Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if owned {
		tr := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", UID: "rs1", Controller: &tr}}
	}
	return p
}

// story lists "title: step title" lines of one story.
func (f *feed) story(title string) []string {
	var out []string
	for _, s := range f.out {
		if s.StoryTitle == title {
			out = append(out, s.Flow+"/"+s.From+"→"+s.To+": "+s.Title)
		}
	}
	return out
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// The notes' ReplicaSet lesson: remove app from a pod (a replacement is made), put it back
// (the ReplicaSet deletes one named pod: has 2, wants 1), delete the ReplicaSet (the
// garbage collector deletes its pods). Each learner action is one story with its flow.
func TestLabelLessonStories(t *testing.T) {
	f := newFeed()
	app := map[string]string{"app": "echo"}
	f.add(f.d.ReplicaSet("ADDED", nil, rs("1", 1)))
	x := pod("echo-rs-x", "2", true, app)
	f.add(f.d.Pod("ADDED", nil, x))
	// Remove the label: the controller releases x and creates y.
	x2 := pod("echo-rs-x", "3", false, nil)
	f.add(f.d.Pod("MODIFIED", x, x2))
	y := pod("echo-rs-y", "4", true, app)
	y.Spec.NodeName, y.Status.Phase = "", ""
	f.add(f.d.Pod("ADDED", nil, y))
	removed := f.story("you removed app from echo-rs-x")
	for _, want := range []string{"replicaset/apiserver→replicaset-controller: ReplicaSet/echo-rs sees desired ≠ current",
		"replicaset/replicaset-controller→apiserver: ReplicaSet/echo-rs releases echo-rs-x",
		"replicaset/replicaset-controller→apiserver: ReplicaSet/echo-rs creates pod echo-rs-y (has 0, wants 1)",
		"pod/apiserver→scheduler: scheduler sees the unassigned pod"} {
		if !contains(removed, want) {
			t.Errorf("story of the removal lacks %q:\n%s", want, strings.Join(removed, "\n"))
		}
	}
	// Put it back: the controller adopts x, then deletes one of its two.
	x3 := pod("echo-rs-x", "5", false, app)
	f.add(f.d.Pod("MODIFIED", x2, x3))
	x4 := pod("echo-rs-x", "6", true, app)
	f.add(f.d.Pod("MODIFIED", x3, x4))
	y2 := y.DeepCopy()
	y2.ResourceVersion, y2.Spec.NodeName = "7", "node-1"
	f.add(f.d.Pod("MODIFIED", y, y2))
	y3 := y2.DeepCopy()
	now := metav1.Now()
	y3.DeletionTimestamp, y3.ResourceVersion = &now, "8"
	f.add(f.d.Pod("MODIFIED", y2, y3))
	f.add(f.d.Pod("DELETED", nil, y3))
	back := f.story("you set app=echo on echo-rs-x")
	for _, want := range []string{"ReplicaSet/echo-rs adopts echo-rs-x",
		"replicaset/replicaset-controller→apiserver: ReplicaSet/echo-rs deletes echo-rs-y: has 2, wants 1",
		"delete/apiserver→kubelet/node-1: kubelet sees echo-rs-y is terminating",
		"delete/kubelet/node-1→containerd/node-1: kubelet has containerd stop the containers of echo-rs-y",
		"delete/kubelet/node-1→apiserver: kubelet confirms; the API server removes echo-rs-y"} {
		if !contains(back, want) {
			t.Errorf("story of putting the label back lacks %q:\n%s", want, strings.Join(back, "\n"))
		}
	}
	if contains(back, "sees desired ≠ current: pod echo-rs-y was deleted") {
		t.Errorf("the controller's own deletion reported as someone else's:\n%s", strings.Join(back, "\n"))
	}
	// Delete the ReplicaSet: the garbage collector deletes x.
	f.add(f.d.ReplicaSet("DELETED", nil, rs("9", 1)))
	x5 := x4.DeepCopy()
	x5.DeletionTimestamp, x5.ResourceVersion = &now, "10"
	f.add(f.d.Pod("MODIFIED", x4, x5))
	gone := f.story("you deleted ReplicaSet/echo-rs")
	for _, want := range []string{"gc/apiserver→garbage-collector: garbage collector sees ReplicaSet/echo-rs gone: its 1 pods have no owner",
		"gc/garbage-collector→apiserver: garbage collector deletes echo-rs-x: its owner ReplicaSet/echo-rs is gone",
		"delete/apiserver→kubelet/node-1: kubelet sees echo-rs-x is terminating"} {
		if !contains(gone, want) {
			t.Errorf("story of the deletion lacks %q:\n%s", want, strings.Join(gone, "\n"))
		}
	}
	if contains(gone, "ReplicaSet/echo-rs deletes") {
		t.Errorf("garbage collection attributed to the ReplicaSet controller:\n%s", strings.Join(gone, "\n"))
	}
}

// Failures are red steps with their reason, and an image that cannot be pulled is not
// "containerd creates the containers".
func TestFailures(t *testing.T) {
	f := newFeed()
	p := pod("bad", "1", false, nil)
	p.Spec.NodeName, p.Status.Phase = "", ""
	f.add(f.d.Pod("ADDED", nil, p))
	f.add(f.d.Event(&corev1.Event{ObjectMeta: metav1.ObjectMeta{UID: "e1"}, Reason: "FailedScheduling", Count: 1,
		Message:        "0/1 nodes are available: 1 node(s) were unschedulable.",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "bad", UID: "bad"}}, p))
	p2 := p.DeepCopy()
	p2.Spec.NodeName, p2.ResourceVersion = "node-1", "2"
	f.add(f.d.Pod("MODIFIED", p, p2))
	p3 := p2.DeepCopy()
	p3.ResourceVersion, p3.Status.Phase = "3", corev1.PodPending
	p3.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: "nope:v9",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}}
	f.add(f.d.Pod("MODIFIED", p2, p3))
	var lines []string
	for _, s := range f.out {
		lines = append(lines, s.Flow+" "+s.Title+map[bool]string{true: " [red " + s.Reason + "]"}[s.Fail])
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"scheduler cannot place bad: 0/1 nodes are available: 1 node(s) were unschedulable. [red FailedScheduling]",
		"containerd cannot pull image nope:v9 for app: ErrImagePull [red ErrImagePull]"} {
		if !strings.Contains(all, want) {
			t.Errorf("lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "kubelet has containerd create the containers") {
		t.Errorf("a failed pull shown as containers created:\n%s", all)
	}
	for _, s := range f.out {
		if s.StoryTitle != "you created Pod/bad" {
			t.Errorf("step %q in story %q", s.Title, s.StoryTitle)
		}
	}
}

// A story started by a learner's action keeps its title's key, so a Korean page names it
// in Korean; a story named after its object keeps the object's name in every language.
func TestStoryTitleInKorean(t *testing.T) {
	f := newFeed()
	f.add(f.d.ReplicaSet("ADDED", nil, rs("1", 1)))
	f.add(f.d.Pod("ADDED", nil, pod("echo-rs-a", "2", true, map[string]string{"app": "echo"})))
	last := f.out[len(f.out)-1]
	if last.StoryTitle != "you created ReplicaSet/echo-rs with 1 replicas" ||
		last.StoryTitleIn("ko") != "내가 레플리카 1개로 ReplicaSet/echo-rs을(를) 만들었습니다" {
		t.Errorf("story title %q, in Korean %q", last.StoryTitle, last.StoryTitleIn("ko"))
	}
	var s steps.Step
	s.Kind, s.Name, s.StoryKey = "Pod", "lonely", "Pod/default/lonely"
	f.t.Assign(&s)
	if s.StoryTitleIn("ko") != "Pod/lonely" {
		t.Errorf("orphan story in Korean: %q", s.StoryTitleIn("ko"))
	}
}

// A CronJob's run is one story: the CronJob controller creates the Job, the Job controller
// sees it and creates its pods, the scheduler binds them. Its pods are not "you created Pod".
func TestCronJobRunIsOneStory(t *testing.T) {
	f := newFeed()
	tr := true
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: "default", UID: "j1", ResourceVersion: "5",
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "nightly", UID: "c1", Controller: &tr}}}}
	f.add(f.d.Job("ADDED", nil, job))
	for i, name := range []string{"nightly-1-a", "nightly-1-b"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: string(rune('6' + i)),
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "nightly-1", UID: "j1", Controller: &tr}}}}
		f.add(f.d.Pod("ADDED", nil, p))
		b := p.DeepCopy()
		b.Spec.NodeName = "node-1"
		f.add(f.d.Pod("MODIFIED", p, b))
	}
	title := "CronJob/nightly creates Job nightly-1: its schedule is due"
	got := f.story(title)
	for _, want := range []string{"cronjob/cronjob-controller→apiserver: " + title,
		"job/apiserver→job-controller: Job controller sees Job/nightly-1",
		"job/job-controller→apiserver: Job/nightly-1 creates pod nightly-1-a",
		"job/job-controller→apiserver: Job/nightly-1 creates pod nightly-1-b",
		"pod/scheduler→apiserver: "} {
		if !contains(got, want) {
			t.Errorf("story %q lacks %q:\n%s", title, want, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(f.out) {
		t.Errorf("%d of %d steps in the run's story; the others:\n%v", len(got), len(f.out), f.out)
	}
	for _, s := range f.out {
		if s.Flow == "you" {
			t.Errorf("a learner's step in a CronJob's run: %s", s.Title)
		}
	}
}

// A Job's pod can reach the deriver before the Job (two informers): it waits for its Job as
// a ReplicaSet's pod waits for its ReplicaSet, and joins the Job's story instead of starting
// one of its own (TestBrowserJobStoryAndIngressBox, 1 in 4 under load).
func TestJobPodBeforeItsJob(t *testing.T) {
	f := newFeed()
	tr := true
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "j1", ResourceVersion: "5"}}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pi-a", Namespace: "default", UID: "pi-a", ResourceVersion: "6",
		OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "pi", UID: "j1", Controller: &tr}}}}
	if got := f.d.Pod("ADDED", nil, p); len(got) != 0 {
		t.Fatalf("the pod of an unseen Job was derived at once: %+v", got)
	}
	f.add(f.d.Job("ADDED", nil, job))
	story := f.story("you created Job/pi")
	if !contains(story, "Job/pi creates pod pi-a") {
		t.Errorf("the Job's story lacks its pod:\n%s", strings.Join(story, "\n"))
	}
}

// jobFeed is a Job "pi" (controlled pods pi-a and pi-b, Running on node-1) as the dashboard's
// watches delivered it; each step's story is assigned as it comes.
// each, when given, sets up the i-th pod before it is fed.
func jobFeed(t *testing.T, spec batchv1.JobSpec, status batchv1.JobStatus, each ...func(i int, p *corev1.Pod)) (*feed, *batchv1.Job, []*corev1.Pod) {
	t.Helper()
	f := newFeed()
	tr := true
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "j1", ResourceVersion: "5"}, Spec: spec, Status: status}
	f.add(f.d.Job("ADDED", nil, job))
	var pods []*corev1.Pod
	for i, name := range []string{"pi-a", "pi-b"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: string(rune('6' + i)),
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "pi", UID: "j1", Controller: &tr}}},
			Spec: corev1.PodSpec{NodeName: "node-1", RestartPolicy: spec.Template.Spec.RestartPolicy}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		for _, set := range each {
			set(i, p)
		}
		f.add(f.d.Pod("ADDED", nil, p))
		pods = append(pods, p)
	}
	return f, job, pods
}

// deleted feeds the graceful deletion of p asked for at at (grace 30s), then its removal.
func (f *feed) deleted(p *corev1.Pod, rv int, at time.Time) {
	f.removed(f.deleting(p, rv, at), rv+1)
}

// deleting feeds the start of p's graceful deletion asked for at at (grace 30s).
func (f *feed) deleting(p *corev1.Pod, rv int, at time.Time) *corev1.Pod {
	grace := int64(30)
	d := p.DeepCopy()
	ts := metav1.NewTime(at.Add(30 * time.Second))
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds, d.ResourceVersion = &ts, &grace, fmt.Sprint(rv)
	f.add(f.d.Pod("MODIFIED", p, d))
	return d
}

// removed feeds the removal of the terminating pod p.
func (f *feed) removed(p *corev1.Pod, rv int) {
	d := p.DeepCopy()
	d.ResourceVersion = fmt.Sprint(rv)
	f.add(f.d.Pod("DELETED", nil, d))
}

func (f *feed) titles() string {
	var lines []string
	for _, s := range f.out {
		lines = append(lines, s.StoryTitle+" | "+s.Flow+"/"+s.From+"→"+s.To+": "+s.Title)
	}
	return strings.Join(lines, "\n")
}

// The Job controller deletes the pods still running once the Job has failed more than its
// backoffLimit: its step, with its reason, in the Job's story; the learner deleted nothing
// (it was "you deleted Pod/pi-b", a story of its own).
func TestJobControllerDeletesPastBackoffLimit(t *testing.T) {
	two, zero := int32(2), int32(0)
	f, job, pods := jobFeed(t, batchv1.JobSpec{Parallelism: &two, Completions: &two, BackoffLimit: &zero}, batchv1.JobStatus{})
	a := pods[0].DeepCopy()
	a.ResourceVersion, a.Status.Phase = "8", corev1.PodFailed
	f.add(f.d.Pod("MODIFIED", pods[0], a))
	// The controller counts the failure (written before it deletes anything)...
	j2 := job.DeepCopy()
	j2.ResourceVersion = "9"
	j2.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{"pi-a"}}
	f.add(f.d.Job("MODIFIED", job, j2))
	// ...and deletes pi-b.
	f.deleted(pods[1], 10, f.now)
	story := f.story("you created Job/pi")
	want := "job/job-controller→apiserver: Job/pi deletes pi-b: 1 pod(s) failed, more than its backoffLimit 0"
	for _, w := range []string{want, "delete/apiserver→kubelet/node-1: kubelet sees pi-b is terminating",
		"delete/kubelet/node-1→apiserver: kubelet confirms; the API server removes pi-b"} {
		if !contains(story, w) {
			t.Errorf("the Job's story lacks %q:\n%s", w, f.titles())
		}
	}
	for _, s := range f.out {
		if s.Flow == steps.FlowYou && s.Kind == "Pod" {
			t.Errorf("the Job controller's deletion is said to be the learner's: %q", s.Title)
		}
		if strings.HasPrefix(s.Title, "Job/pi deletes") && (s.TitleIn("ko") != "Job/pi이(가) pi-b을(를) 지웁니다: 파드 1개가 실패해 backoffLimit 0을(를) 넘었습니다" || s.Component != "controller-manager") {
			t.Errorf("in Korean %q, component %q", s.TitleIn("ko"), s.Component)
		}
	}
}

// Suspending a Job is the learner's write; the Job controller then deletes its running pods
// ("the Job is suspended"), in the story of the suspension.
func TestJobControllerDeletesWhenSuspended(t *testing.T) {
	two := int32(2)
	f, job, pods := jobFeed(t, batchv1.JobSpec{Parallelism: &two, Completions: &two}, batchv1.JobStatus{})
	j2 := job.DeepCopy()
	j2.ResourceVersion, j2.Spec.Suspend = "8", ptrTrue()
	f.add(f.d.Job("MODIFIED", job, j2))
	f.deleted(pods[0], 9, f.now)
	f.deleted(pods[1], 11, f.now)
	story := f.story("you suspended Job/pi")
	for _, w := range []string{"you/client→apiserver: you suspended Job/pi",
		"job/job-controller→apiserver: Job/pi deletes pi-a: the Job is suspended",
		"job/job-controller→apiserver: Job/pi deletes pi-b: the Job is suspended"} {
		if !contains(story, w) {
			t.Errorf("the suspension's story lacks %q:\n%s", w, f.titles())
		}
	}
}

// Past activeDeadlineSeconds the controller deletes the running pods; before it, a pod
// deleted by hand is still the learner's.
func TestJobControllerDeletesPastDeadline(t *testing.T) {
	two, ten := int32(2), int64(10)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f, _, pods := jobFeed(t, batchv1.JobSpec{Parallelism: &two, ActiveDeadlineSeconds: &ten},
		batchv1.JobStatus{StartTime: &metav1.Time{Time: start}})
	f.deleted(pods[0], 9, start.Add(3*time.Second))
	f.deleted(pods[1], 11, start.Add(10*time.Second))
	if got := f.story("you deleted Pod/pi-a"); len(got) == 0 {
		t.Errorf("a pod deleted by hand before the deadline is not the learner's:\n%s", f.titles())
	}
	if !contains(f.story("you created Job/pi"), "job/job-controller→apiserver: Job/pi deletes pi-b: it ran longer than its activeDeadlineSeconds 10") {
		t.Errorf("the deadline's deletion is not the Job controller's:\n%s", f.titles())
	}
}

// A CronJob keeps its newest successfulJobsHistoryLimit finished Jobs: when a run ends, its
// controller deletes the oldest (its step, in the story of the run that just ended), and
// the garbage collector then deletes that Job's pod. There was no step for it at all. The
// pod's deletion may reach the dashboard before the Job's (two watches): it waits for it,
// as the garbage collector did (it was once the Job controller's, "its Complete condition").
func TestCronJobPrunesOldJobs(t *testing.T) {
	for _, podFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("podFirst=", podFirst), func(t *testing.T) { cronJobPrunes(t, podFirst) })
	}
}

func cronJobPrunes(t *testing.T, podFirst bool) {
	f := newFeed()
	tr, one := true, int32(1)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default", UID: "c1", ResourceVersion: "1"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", SuccessfulJobsHistoryLimit: &one, FailedJobsHistoryLimit: &one}}
	f.add(f.d.CronJob("ADDED", cj))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rv := 1
	next := func() string { rv++; return fmt.Sprint(rv) }
	run := func(n int) (*batchv1.Job, *corev1.Pod) {
		name := fmt.Sprintf("nightly-%d", n)
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: next(),
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "nightly", UID: "c1", Controller: &tr}}}}
		f.add(f.d.Job("ADDED", nil, job))
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-a", Namespace: "default", UID: types.UID(name + "-a"), ResourceVersion: next(),
			OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: name, UID: job.UID, Controller: &tr}}},
			Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		f.add(f.d.Pod("ADDED", nil, p))
		p2 := p.DeepCopy()
		p2.ResourceVersion, p2.Status.Phase = next(), corev1.PodSucceeded
		f.add(f.d.Pod("MODIFIED", p, p2))
		done := job.DeepCopy()
		at := metav1.NewTime(start.Add(time.Duration(n) * 5 * time.Minute))
		done.ResourceVersion, done.Status.StartTime = next(), &at
		done.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at}}
		f.add(f.d.Job("MODIFIED", job, done))
		return done, p2
	}
	j1, p1 := run(1)
	run(2)
	gone := j1.DeepCopy()
	gone.ResourceVersion = next()
	if podFirst {
		f.deleted(p1, rv+1, f.now)
		f.add(f.d.Job("DELETED", nil, gone))
	} else {
		f.add(f.d.Job("DELETED", nil, gone))
		f.deleted(p1, rv+1, f.now)
	}
	story := f.story("CronJob/nightly creates Job nightly-2: its schedule is due")
	for _, w := range []string{"cronjob/cronjob-controller→apiserver: CronJob/nightly deletes Job nightly-1: keeps the newest 1 successful",
		"gc/apiserver→garbage-collector: garbage collector sees Job/nightly-1 gone: its 1 pods have no owner",
		"gc/garbage-collector→apiserver: garbage collector deletes nightly-1-a: its owner Job/nightly-1 is gone",
		"delete/kubelet/node-1→apiserver: kubelet confirms; the API server removes nightly-1-a"} {
		if !contains(story, w) {
			t.Errorf("the run's story lacks %q:\n%s", w, f.titles())
		}
	}
	for _, s := range f.out {
		if s.Flow == steps.FlowYou {
			t.Errorf("a learner's step: %q", s.Title)
		}
		if s.From == steps.CronJobCtrl && s.N == 2 && (s.Owner != "CronJob/nightly" ||
			s.TitleIn("ko") != "CronJob/nightly이(가) Job nightly-1을(를) 지웁니다: 성공한 Job은 최근 1개만 남깁니다") {
			t.Errorf("the prune step: owner %q, in Korean %q", s.Owner, s.TitleIn("ko"))
		}
	}
}

func ptrTrue() *bool { t := true; return &t }

// An Indexed Job's controller deletes the pods whose index it does not need run (as
// Kubernetes' indexed_job_utils.go: no valid index, an index at or past completions, an
// index already succeeded, a second pod for one index), before it compares how many run
// with how many it wants. Each is its step with that reason; they were "you deleted
// Pod/…" whenever the count alone did not explain them.
func TestIndexedJobControllerDeletesSurplus(t *testing.T) {
	indexed := batchv1.IndexedCompletion
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                     string
		completions, parallelism int32
		lowerTo                  int32 // the learner changes completions and parallelism to it first (0: no change)
		completed                string
		indexes                  [2]string // pi-a's and pi-b's, created a second apart
		victim                   int
		story, want, ko          string
	}{
		{name: "index succeeded", completions: 3, parallelism: 2, completed: "0", indexes: [2]string{"0", "1"}, victim: 0,
			story: "you created Job/pi", want: "Job/pi deletes pi-a: its completion index 0 already succeeded",
			ko: "Job/pi이(가) pi-a을(를) 지웁니다: 완료 인덱스 0은(는) 이미 성공했습니다"},
		{name: "index taken", completions: 3, parallelism: 2, indexes: [2]string{"0", "0"}, victim: 1,
			story: "you created Job/pi", want: "Job/pi deletes pi-b: pi-a already runs its completion index 0",
			ko: "Job/pi이(가) pi-b을(를) 지웁니다: pi-a이(가) 이미 완료 인덱스 0을(를) 실행하고 있습니다"},
		{name: "index out of range", completions: 3, parallelism: 2, indexes: [2]string{"0", "5"}, victim: 1,
			story: "you created Job/pi", want: "Job/pi deletes pi-b: its completion index 5 is not below its completions 3",
			ko: "Job/pi이(가) pi-b을(를) 지웁니다: 완료 인덱스 5이(가) completions 3보다 작지 않습니다"},
		{name: "no index", completions: 3, parallelism: 2, indexes: [2]string{"0", "x"}, victim: 1,
			story: "you created Job/pi", want: "Job/pi deletes pi-b: it has no valid completion index",
			ko: "Job/pi이(가) pi-b을(를) 지웁니다: 올바른 완료 인덱스가 없습니다"},
		{name: "completions lowered", completions: 2, parallelism: 2, lowerTo: 1, indexes: [2]string{"0", "1"}, victim: 1,
			story: "you changed the parallelism of Job/pi 2→1", want: "Job/pi deletes pi-b: its completion index 1 is not below its completions 1",
			ko: "Job/pi이(가) pi-b을(를) 지웁니다: 완료 인덱스 1이(가) completions 1보다 작지 않습니다"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			succeeded := int32(len(strings.Split(tc.completed, ",")))
			if tc.completed == "" {
				succeeded = 0
			}
			f, job, pods := jobFeed(t, batchv1.JobSpec{CompletionMode: &indexed, Completions: &tc.completions, Parallelism: &tc.parallelism},
				batchv1.JobStatus{CompletedIndexes: tc.completed, Succeeded: succeeded}, func(i int, p *corev1.Pod) {
					p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: tc.indexes[i]}
					p.CreationTimestamp = metav1.NewTime(start.Add(time.Duration(i) * time.Second))
				})
			if tc.lowerTo > 0 {
				j2 := job.DeepCopy()
				j2.ResourceVersion, j2.Generation = "8", 2
				j2.Spec.Completions, j2.Spec.Parallelism = &tc.lowerTo, &tc.lowerTo
				f.add(f.d.Job("MODIFIED", job, j2))
			}
			victim := pods[tc.victim]
			f.deleted(victim, 10, f.now)
			if !contains(f.story(tc.story), "job/job-controller→apiserver: "+tc.want) {
				t.Errorf("the story %q lacks %q:\n%s", tc.story, tc.want, f.titles())
			}
			for _, s := range f.out {
				if s.Flow == steps.FlowYou && s.Kind == "Pod" {
					t.Errorf("the Job controller's deletion is said to be the learner's: %q", s.Title)
				}
				if s.Title == tc.want && s.TitleIn("ko") != tc.ko {
					t.Errorf("in Korean %q, want %q", s.TitleIn("ko"), tc.ko)
				}
			}
		})
	}
}

// A pod of an Indexed Job that the controller still wants (its own index, or the older
// of two for one index) deleted by hand stays the learner's.
func TestIndexedJobPodDeletedByHand(t *testing.T) {
	indexed, three, two := batchv1.IndexedCompletion, int32(3), int32(2)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, indexes := range [][2]string{{"0", "1"}, {"0", "0"}} {
		f, _, pods := jobFeed(t, batchv1.JobSpec{CompletionMode: &indexed, Completions: &three, Parallelism: &two}, batchv1.JobStatus{},
			func(i int, p *corev1.Pod) {
				p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: indexes[i]}
				p.CreationTimestamp = metav1.NewTime(start.Add(time.Duration(i) * time.Second))
			})
		f.deleted(pods[0], 10, f.now)
		if len(f.story("you deleted Pod/pi-a")) == 0 {
			t.Errorf("indexes %v: pi-a deleted by hand is not the learner's:\n%s", indexes, f.titles())
		}
	}
}

// With restartPolicy OnFailure a failure restarts a container in its pod: the Job
// controller adds up the restarts of all its pods still Pending or Running (Kubernetes'
// pastBackoffLimitOnFailure) and, at backoffLimit, deletes them. Each deletion is its step
// with that total; it counted only the deleted pod's own restarts, so both were the
// learner's. Below the limit a deletion by hand stays the learner's.
func TestJobControllerDeletesPastRestarts(t *testing.T) {
	two, three := int32(2), int32(3)
	spec := batchv1.JobSpec{Parallelism: &two, Completions: &two, BackoffLimit: &three,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}}}
	restarted := func(counts ...int32) func(int, *corev1.Pod) {
		return func(i int, p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", RestartCount: counts[i]}}
		}
	}
	f, _, pods := jobFeed(t, spec, batchv1.JobStatus{}, restarted(2, 1))
	// One sync deletes both; they are removed once their containers stop.
	a, b := f.deleting(pods[0], 10, f.now), f.deleting(pods[1], 11, f.now)
	f.removed(a, 12)
	f.removed(b, 13)
	story := f.story("you created Job/pi")
	for _, name := range []string{"pi-a", "pi-b"} {
		want := "job/job-controller→apiserver: Job/pi deletes " + name + ": its pods' containers restarted 3 time(s) in all, and its backoffLimit is 3"
		if !contains(story, want) {
			t.Errorf("the Job's story lacks %q:\n%s", want, f.titles())
		}
	}
	for _, s := range f.out {
		if s.Flow == steps.FlowYou && s.Kind == "Pod" {
			t.Errorf("the Job controller's deletion is said to be the learner's: %q", s.Title)
		}
		if s.Title == "Job/pi deletes pi-a: its pods' containers restarted 3 time(s) in all, and its backoffLimit is 3" && s.TitleIn("ko") != "Job/pi이(가) pi-a을(를) 지웁니다: 파드들의 컨테이너가 모두 3번 재시작했고 backoffLimit은 3입니다" {
			t.Errorf("in Korean %q", s.TitleIn("ko"))
		}
	}
	f, _, pods = jobFeed(t, spec, batchv1.JobStatus{}, restarted(1, 1))
	f.deleted(pods[0], 10, f.now)
	if len(f.story("you deleted Pod/pi-a")) == 0 {
		t.Errorf("below the limit (2 restarts, backoffLimit 3) a deletion by hand is not the learner's:\n%s", f.titles())
	}
}
