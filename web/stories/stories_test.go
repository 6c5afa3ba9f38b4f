package stories

import (
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
}

func newFeed() *feed {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &feed{d: steps.New(func() time.Time { return now }), t: New()}
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
