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

// cache is a fake of the dashboard's informer caches: the newest resourceVersion of each
// object by kind/ns/name.
type cache map[string]uint64

func (c cache) versions(kind, ns, name string) (uint64, bool) {
	rv, ok := c[steps.Key(kind, ns, name)]
	return rv, ok
}

// A pod the ReplicaSet controller made reaches the deriver before the ReplicaSet itself
// (two informers): it waits for it, and its creation is in the learner's story of the
// ReplicaSet, not a story of its own.
func TestPodBeforeItsReplicaSet(t *testing.T) {
	f := newFeed()
	p := pod("echo-rs-a", "3", true, map[string]string{"app": "echo"})
	p.Spec.NodeName, p.Status.Phase = "", ""
	if got := f.d.Pod("ADDED", nil, p); len(got) != 0 {
		t.Fatalf("the pod of an unseen ReplicaSet was derived at once: %+v", got)
	}
	f.add(f.d.ReplicaSet("ADDED", nil, rs("2", 1)))
	story := f.story("you created ReplicaSet/echo-rs with 1 replicas")
	for _, want := range []string{"ReplicaSet/echo-rs creates pod echo-rs-a (has 0, wants 1)", "scheduler sees the unassigned pod"} {
		if !contains(story, want) {
			t.Errorf("the ReplicaSet's story lacks %q:\n%s", want, strings.Join(story, "\n"))
		}
	}
}

// The rollout: the new ReplicaSet arrives before the Deployment's template change that
// made it (the cache already has that change): it waits, and joins the rollout's story.
func TestReplicaSetBeforeItsDeploymentChange(t *testing.T) {
	f := newFeed()
	c := cache{}
	f.d.Versions = c.versions
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "2", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one}}
	newRS := func(name, rv string) *appsv1.ReplicaSet {
		tr := true
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: rv,
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", Controller: &tr}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &one}}
	}
	c["Deployment/default/web"] = 2
	f.add(f.d.Deployment("ADDED", nil, dep))
	f.add(f.d.ReplicaSet("ADDED", nil, newRS("web-1", "3")))
	dep2 := dep.DeepCopy()
	dep2.ResourceVersion, dep2.Generation = "10", 2
	dep2.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "echo:v2"}}
	c["Deployment/default/web"] = 10
	if got := f.d.ReplicaSet("ADDED", nil, newRS("web-2", "12")); len(got) != 0 {
		t.Fatalf("derived before the Deployment change it follows: %+v", got)
	}
	f.add(f.d.Deployment("MODIFIED", dep, dep2))
	story := f.story("rollout of deploy/web: you changed its template")
	if !contains(story, "Deployment/web creates ReplicaSet/web-2 with 1 replicas") {
		t.Errorf("the new ReplicaSet is not in the rollout's story:\n%s", strings.Join(story, "\n"))
	}
}

// The same rollout when the Deployment's informer has not received the template change
// either (its cache still has the old version, CI's TestBrowserRolloutStory 1 in 3): the new
// ReplicaSet's template is not the Deployment's as last seen, so it waits for the
// Deployment's next version, and joins the rollout's story.
func TestReplicaSetBeforeTheDeploymentInformer(t *testing.T) {
	f := newFeed()
	c := cache{}
	f.d.Versions = c.versions
	one := int32(1)
	tmpl := func(image string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "2", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Template: tmpl("echo:v1")}}
	newRS := func(name, rv, image string) *appsv1.ReplicaSet {
		tr := true
		t := tmpl(image)
		t.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = name
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: rv,
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", Controller: &tr}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &one, Template: t}}
	}
	c["Deployment/default/web"] = 2
	f.add(f.d.Deployment("ADDED", nil, dep))
	if got := f.d.ReplicaSet("ADDED", nil, newRS("web-1", "3", "echo:v1")); len(got) == 0 {
		t.Fatalf("the first ReplicaSet, of the template seen, was held")
	} else {
		f.add(got)
	}
	dep2 := dep.DeepCopy()
	dep2.ResourceVersion, dep2.Generation = "10", 2
	dep2.Spec.Template = tmpl("echo:v2")
	if got := f.d.ReplicaSet("ADDED", nil, newRS("web-2", "12", "echo:v2")); len(got) != 0 {
		t.Fatalf("derived before the Deployment change it follows, which no cache had yet: %+v", got)
	}
	f.add(f.d.Deployment("MODIFIED", dep, dep2))
	story := f.story("rollout of deploy/web: you changed its template")
	if !contains(story, "Deployment/web creates ReplicaSet/web-2 with 1 replicas") {
		t.Errorf("the new ReplicaSet is not in the rollout's story:\n%s", strings.Join(story, "\n"))
	}
}

// An owner that never comes holds its pod at most MaxHold; the pod's later changes wait
// behind it and follow it in order. An informer's initial list is never held.
func TestHoldIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &feed{d: steps.New(func() time.Time { return now }), t: New()}
	p := pod("lost-a", "3", true, nil)
	p.OwnerReferences[0].Name = "lost"
	p.Spec.NodeName, p.Status.Phase = "", ""
	bound := p.DeepCopy()
	bound.Spec.NodeName, bound.ResourceVersion = "node-1", "4"
	if len(f.d.Pod("ADDED", nil, p)) != 0 || len(f.d.Pod("MODIFIED", p, bound)) != 0 {
		t.Fatal("the pod of an unseen ReplicaSet was derived at once")
	}
	if next := f.d.Next(); !next.Equal(now.Add(steps.MaxHold)) {
		t.Errorf("next due %v, want %v", next, now.Add(steps.MaxHold))
	}
	if got := f.d.Due(now.Add(steps.MaxHold - time.Millisecond)); len(got) != 0 {
		t.Fatalf("released before MaxHold: %+v", got)
	}
	got := f.d.Due(now.Add(steps.MaxHold))
	var titles []string
	for _, s := range got {
		titles = append(titles, s.Title)
	}
	want := []string{"ReplicaSet/lost creates pod lost-a (has 0, wants 0)", "scheduler sees the unassigned pod", "scheduler binds it to a node"}
	if strings.Join(titles, "\n") != strings.Join(want, "\n") {
		t.Errorf("released after MaxHold:\n%s\nwant:\n%s", strings.Join(titles, "\n"), strings.Join(want, "\n"))
	}
	if !f.d.Next().IsZero() {
		t.Error("still holding after the release")
	}
	f.d.Listing = true
	q := p.DeepCopy()
	q.Name, q.UID = "lost-b", "lost-b"
	if len(f.d.Pod("ADDED", nil, q)) == 0 {
		t.Error("a pod of the initial list was held")
	}
}

// The learner deletes a pod by hand while the cache and the API server already have the
// ReplicaSet's status written after that deletion, and its spec is unchanged: the
// deletion is not held for it, by the cache or by the live read (holding it let the
// replacement's creation overtake the deletion and leave the learner's story).
func TestNotHeldForLaterOwnerChanges(t *testing.T) {
	f := newFeed()
	c := cache{"ReplicaSet/default/echo-rs": 1}
	api := live{"ReplicaSet/default/echo-rs": {1, 1}}
	f.d.Versions, f.d.Latest = c.versions, api.latest
	r := rs("1", 1)
	r.Generation = 1
	f.add(f.d.ReplicaSet("ADDED", nil, r))
	a := pod("echo-rs-a", "2", true, map[string]string{"app": "echo"})
	f.add(f.d.Pod("ADDED", nil, a))
	c["ReplicaSet/default/echo-rs"], api["ReplicaSet/default/echo-rs"] = 12, [2]uint64{12, 1}
	gone := a.DeepCopy()
	now := metav1.Now()
	gone.DeletionTimestamp, gone.ResourceVersion = &now, "10"
	got := f.d.Pod("MODIFIED", a, gone)
	f.add(got)
	if len(got) == 0 || len(f.story("you deleted Pod/echo-rs-a")) == 0 {
		t.Fatalf("the learner's deletion waited for a later change of its ReplicaSet: %+v", got)
	}
}

// Deleted by hand: the pod's removal waits for its ReplicaSet's status (written before
// it), and the replacement, written after, arrives meanwhile: it waits behind the removal,
// so the ReplicaSet seeing the pod gone comes first and the replacement joins the
// learner's story, as without any hold.
func TestReplacementDoesNotOvertakeTheRemoval(t *testing.T) {
	f := newFeed()
	c := cache{"ReplicaSet/default/echo-rs": 1}
	f.d.Versions = c.versions
	f.add(f.d.ReplicaSet("ADDED", nil, rs("1", 1)))
	a := pod("echo-rs-a", "2", true, map[string]string{"app": "echo"})
	f.add(f.d.Pod("ADDED", nil, a))
	now := metav1.Now()
	a2 := a.DeepCopy()
	a2.DeletionTimestamp, a2.ResourceVersion = &now, "3"
	f.add(f.d.Pod("MODIFIED", a, a2))
	c["ReplicaSet/default/echo-rs"] = 4 // its status, before the removal (5)
	a3 := a2.DeepCopy()
	a3.ResourceVersion = "5"
	if got := f.d.Pod("DELETED", nil, a3); len(got) != 0 {
		t.Fatalf("the removal did not wait for the status written before it: %+v", got)
	}
	c["ReplicaSet/default/echo-rs"] = 7 // its status after the replacement (6)
	b := pod("echo-rs-b", "6", true, map[string]string{"app": "echo"})
	b.Spec.NodeName, b.Status.Phase = "", ""
	if got := f.d.Pod("ADDED", nil, b); len(got) != 0 {
		t.Fatalf("the replacement overtook the removal: %+v", got)
	}
	f.add(f.d.ReplicaSet("MODIFIED", rs("1", 1), rs("4", 1)))
	story := f.story("you deleted Pod/echo-rs-a")
	for _, want := range []string{"kubelet confirms; the API server removes echo-rs-a", "ReplicaSet/echo-rs creates pod echo-rs-b"} {
		if !contains(story, want) {
			t.Errorf("the learner's story lacks %q:\n%s", want, strings.Join(story, "\n"))
		}
	}
}

// Deleting a pod by hand with a grace period: the ReplicaSet replaces it as soon as the
// deletion starts (a terminating pod no longer counts), long before the pod is gone. The
// replacement's creation is in the learner's deletion story (TestBrowserScaleDownAndPodDeletion
// found it in the earlier scaling story whenever it came before the pod's removal).
func TestReplacementWhileTheDeletedPodTerminates(t *testing.T) {
	f := newFeed()
	app := map[string]string{"app": "echo"}
	f.add(f.d.ReplicaSet("ADDED", nil, rs("1", 1)))
	x := pod("echo-rs-x", "2", true, app)
	f.add(f.d.Pod("ADDED", nil, x))
	x2 := x.DeepCopy()
	x2.ResourceVersion = "5"
	now := metav1.Now()
	x2.DeletionTimestamp = &now
	f.add(f.d.Pod("MODIFIED", x, x2))
	y := pod("echo-rs-y", "6", true, app)
	y.Spec.NodeName, y.Status.Phase = "", ""
	f.add(f.d.Pod("ADDED", nil, y))
	story := f.story("you deleted Pod/echo-rs-x")
	for _, want := range []string{"ReplicaSet/echo-rs sees desired ≠ current: pod echo-rs-x was deleted (has 0, wants 1)",
		"ReplicaSet/echo-rs creates pod echo-rs-y"} {
		if !contains(story, want) {
			t.Errorf("the deletion's story lacks %q:\n%s", want, strings.Join(story, "\n"))
		}
	}
	// The pod's removal later says nothing more for the ReplicaSet.
	gone := f.d.Pod("DELETED", nil, x2)
	for _, s := range gone {
		if s.Kind == "ReplicaSet" {
			t.Errorf("the ReplicaSet sees the deletion twice: %q", s.Title)
		}
	}
}

// live is a fake of the API server for Deriver.Latest: the newest resourceVersion and
// generation of each object by kind/ns/name (absent: deleted).
type live map[string][2]uint64

func (l live) latest(kind, ns, name string) (uint64, int64, bool, error) {
	v, ok := l[steps.Key(kind, ns, name)]
	return v[0], int64(v[1]), ok, nil
}

// Scaled 3→1, a pod's deletion arrives before the ReplicaSet's change (two informers).
// The informer cache may have that change; or only the API server (CI's
// TestBrowserScaleDownAndPodDeletion under load), which may even have the status the
// controller wrote after its deletions. Each time the deletion waits for the scale and is
// the ReplicaSet controller's in the learner's scaling story, not "you deleted".
func TestDeletionBeforeTheScaleDown(t *testing.T) {
	gen := func(r *appsv1.ReplicaSet, g int64) *appsv1.ReplicaSet { r.Generation = g; return r }
	for _, tc := range []struct {
		name   string
		cached uint64               // the informer cache's version
		latest [2]uint64            // the API server's newest version: rv, generation
		after  []*appsv1.ReplicaSet // what the informer then delivers
	}{
		{"in the cache", 9, [2]uint64{9, 2}, []*appsv1.ReplicaSet{gen(rs("9", 1), 2)}},
		{"scale written", 1, [2]uint64{9, 2}, []*appsv1.ReplicaSet{gen(rs("9", 1), 2)}},
		{"status after the deletions", 1, [2]uint64{12, 2}, []*appsv1.ReplicaSet{gen(rs("9", 1), 2), gen(rs("12", 1), 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed()
			c := cache{"ReplicaSet/default/echo-rs": 1}
			api := live{"ReplicaSet/default/echo-rs": {1, 1}}
			f.d.Versions, f.d.Latest = c.versions, api.latest
			prev := gen(rs("1", 3), 1)
			f.add(f.d.ReplicaSet("ADDED", nil, prev))
			var pods []*corev1.Pod
			for _, n := range []string{"a", "b", "c"} {
				p := pod("echo-rs-"+n, "2", true, map[string]string{"app": "echo"})
				pods = append(pods, p)
				f.add(f.d.Pod("ADDED", nil, p))
			}
			c["ReplicaSet/default/echo-rs"], api["ReplicaSet/default/echo-rs"] = tc.cached, tc.latest
			gone := pods[0].DeepCopy()
			now := metav1.Now()
			gone.DeletionTimestamp, gone.ResourceVersion = &now, "10"
			if got := f.d.Pod("MODIFIED", pods[0], gone); len(got) != 0 {
				t.Fatalf("derived before the scale-down it follows: %+v", got)
			}
			for _, r := range tc.after {
				f.add(f.d.ReplicaSet("MODIFIED", prev, r))
				prev = r
			}
			story := f.story("you scaled echo-rs 3→1")
			if !contains(story, "ReplicaSet/echo-rs deletes echo-rs-a: has 3, wants 1") {
				t.Errorf("the deletion is not the ReplicaSet's in the scaling story:\n%s", strings.Join(story, "\n"))
			}
			if s := f.story("you deleted Pod/echo-rs-a"); len(s) != 0 {
				t.Errorf("the ReplicaSet's deletion told as the learner's:\n%s", strings.Join(s, "\n"))
			}
		})
	}
}

// The learner deletes CronJob/tick and the garbage collector deletes its Job tick-1, whose
// deletion reaches the dashboard first (two watches): when the CronJob's informer has let
// it go already, or only the API server knows it is gone. The Job's deletion waits for
// the CronJob's (at most MaxHold) and is the garbage collector's, as is its pod's after
// it; it was "you deleted Job/tick-1". A Job deleted by hand while its CronJob is there is
// the learner's at once; one whose CronJob's deletion never comes is told when MaxHold
// is up.
func TestJobDeletionBeforeItsCronJobs(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cached, alive bool // the CronJob in the informer cache, on the API server
		cronGoes      bool // its deletion is then delivered
		want          string
	}{
		{"informer let it go", false, false, true, "garbage collector deletes Job tick-1: its owner CronJob/tick is gone"},
		{"only the API server", true, false, true, "garbage collector deletes Job tick-1: its owner CronJob/tick is gone"},
		{"deleted by hand", true, true, false, "you deleted Job/tick-1"},
		{"never comes", true, false, false, "you deleted Job/tick-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed()
			c, api := cache{}, live{}
			f.d.Versions, f.d.Latest = c.versions, api.latest
			tr := true
			cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "c1", ResourceVersion: "1"}}
			c["CronJob/default/tick"], api["CronJob/default/tick"] = 1, [2]uint64{1, 1}
			f.add(f.d.CronJob("ADDED", cj))
			job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "tick-1", Namespace: "default", UID: "j1", ResourceVersion: "2",
				OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "tick", UID: "c1", Controller: &tr}}}}
			c["Job/default/tick-1"], api["Job/default/tick-1"] = 2, [2]uint64{2, 1}
			f.add(f.d.Job("ADDED", nil, job))
			p := pod("tick-1-a", "3", false, nil)
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: "tick-1", UID: "j1", Controller: &tr}}
			f.add(f.d.Pod("ADDED", nil, p))
			if !tc.cached {
				delete(c, "CronJob/default/tick")
			}
			if !tc.alive {
				delete(api, "CronJob/default/tick")
			}
			delete(c, "Job/default/tick-1")
			delete(api, "Job/default/tick-1")
			gone := job.DeepCopy()
			gone.ResourceVersion = "11"
			got := f.d.Job("DELETED", nil, gone)
			f.add(got)
			if held := len(got) == 0; held != !tc.alive {
				t.Fatalf("held %v, want %v: %+v", held, !tc.alive, got)
			}
			f.deleted(p, 12, f.now)
			switch {
			case tc.cronGoes:
				c2 := cj.DeepCopy()
				c2.ResourceVersion = "10"
				f.add(f.d.CronJob("DELETED", c2))
			case !tc.alive:
				if f.d.Next().IsZero() || !f.d.Next().After(f.now) {
					t.Fatalf("nothing due later: next %v", f.d.Next())
				}
				f.add(f.d.Due(f.now.Add(steps.MaxHold)))
			}
			var titles []string
			for _, s := range f.out {
				if s.Kind == "Job" && s.Style == steps.Write && strings.Contains(s.Title, "delete") {
					titles = append(titles, s.Title)
				}
			}
			if len(titles) != 1 || titles[0] != tc.want {
				t.Errorf("the Job's deletion: %q, want %q:\n%s", titles, tc.want, f.titles())
			}
			if !contains(f.story(f.out[len(f.out)-1].StoryTitle), "kubelet confirms; the API server removes tick-1-a") {
				t.Errorf("the pod's removal is not in the Job's story:\n%s", f.titles())
			}
		})
	}
}

// The learner deletes CronJob/tick, which has run twice: the deletion is a story of its
// own, and the garbage collector's deletions of its Jobs, and of their pods, follow in
// it, in English and in Korean. There was no step for the CronJob, and each Job's
// deletion joined the story of the run that made it.
func TestCronJobDeletionStory(t *testing.T) {
	f := newFeed()
	tr := true
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "c1", ResourceVersion: "1"}}
	f.add(f.d.CronJob("ADDED", cj))
	var jobs []*batchv1.Job
	var pods []*corev1.Pod
	for i, run := range []string{"tick-1", "tick-2"} {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: run, Namespace: "default", UID: types.UID(run),
			ResourceVersion: fmt.Sprint(2 + 2*i),
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "tick", UID: "c1", Controller: &tr}}}}
		f.add(f.d.Job("ADDED", nil, job))
		p := pod(run+"-a", fmt.Sprint(3+2*i), false, nil)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: run, UID: types.UID(run), Controller: &tr}}
		f.add(f.d.Pod("ADDED", nil, p))
		jobs, pods = append(jobs, job), append(pods, p)
	}
	gone := cj.DeepCopy()
	gone.ResourceVersion = "10"
	f.add(f.d.CronJob("DELETED", gone))
	for i, job := range jobs {
		j := job.DeepCopy()
		j.ResourceVersion = fmt.Sprint(11 + 3*i)
		f.add(f.d.Job("DELETED", nil, j))
		f.deleted(pods[i], 12+3*i, f.now)
	}
	story := f.story("you deleted CronJob/tick")
	for _, want := range []string{
		"you/client→apiserver: you deleted CronJob/tick",
		"garbage collector sees CronJob/tick gone: its 2 Jobs have no owner",
		"garbage collector deletes Job tick-1: its owner CronJob/tick is gone",
		"garbage collector deletes Job tick-2: its owner CronJob/tick is gone",
		"kubelet confirms; the API server removes tick-1-a",
		"kubelet confirms; the API server removes tick-2-a",
	} {
		if !contains(story, want) {
			t.Errorf("the CronJob's deletion story has no %q:\n%s", want, f.titles())
		}
	}
	for _, s := range f.out {
		if s.StoryTitle == "you deleted CronJob/tick" {
			if ko := s.StoryTitleIn("ko"); ko != "내가 CronJob/tick을(를) 지웠습니다" {
				t.Errorf("Korean story title %q", ko)
			}
			break
		}
	}
}
