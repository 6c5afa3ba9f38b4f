package web

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/web/steps"
	"webkube/web/stories"
)

// rolloutChanges: a Deployment created with its first ReplicaSet, then a template change
// (rv 10) and the new ReplicaSet the deployment controller made for it (rv 12), which
// the ReplicaSet informer delivered first.
func rolloutChanges(t0 time.Time) (setup, late []change) {
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "2", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one}}
	rs := func(name, rv string) *appsv1.ReplicaSet {
		t := true
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: rv,
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", Controller: &t}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &one}}
	}
	dep2 := dep.DeepCopy()
	dep2.ResourceVersion, dep2.Generation = "10", 2
	dep2.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "echo:v2"}}
	setup = []change{{kind: "deployment", typ: "ADDED", obj: dep, at: t0}, {kind: "replicaset", typ: "ADDED", obj: rs("web-1", "3"), at: t0}}
	late = []change{{kind: "replicaset", typ: "ADDED", obj: rs("web-2", "12"), at: t0.Add(time.Second)},
		{kind: "deployment", typ: "MODIFIED", old: dep, obj: dep2, at: t0.Add(time.Second + 5*time.Millisecond)}}
	return setup, late
}

// storyTitlesOf derives the steps of changes, in the order given, and names each step's
// story: "title: story title".
func storyTitlesOf(changes []change) []string {
	der, st := steps.New(time.Now), stories.New()
	var out []string
	for _, ch := range changes {
		var got []steps.Step
		switch o := ch.obj.(type) {
		case *appsv1.Deployment:
			old, _ := ch.old.(*appsv1.Deployment)
			got = der.Deployment(ch.typ, old, o)
		case *appsv1.ReplicaSet:
			old, _ := ch.old.(*appsv1.ReplicaSet)
			got = der.ReplicaSet(ch.typ, old, o)
		}
		for i := range got {
			st.Assign(&got[i])
			out = append(out, got[i].Title+": "+got[i].StoryTitle)
		}
	}
	return out
}

// The new ReplicaSet delivered before the Deployment change that caused it: in arrival
// order its step joins the Deployment's creation story; reordered by resourceVersion it
// is in the rollout's story, where it belongs.
func TestReorderPutsRolloutStepsInTheRolloutStory(t *testing.T) {
	t0 := time.Now()
	setup, late := rolloutChanges(t0)
	want := "Deployment/web creates ReplicaSet/web-2 with 1 replicas: rollout of deploy/web: you changed its template"
	arrival := strings.Join(storyTitlesOf(append(append([]change(nil), setup...), late...)), "\n")
	if strings.Contains(arrival, want) {
		t.Fatalf("in arrival order the step was already in the rollout's story; the test shows nothing:\n%s", arrival)
	}
	var r reorder
	var ordered []change
	for _, ch := range setup {
		r.add(ch)
	}
	ordered = append(ordered, r.due(t0.Add(settle))...)
	for _, ch := range late {
		r.add(ch)
	}
	// Nothing is handed on before it settled.
	if got := r.due(late[0].at.Add(settle - time.Millisecond)); len(got) != 0 {
		t.Fatalf("handed on before it settled: %+v", got)
	}
	if next := r.next(); !next.Equal(late[0].at.Add(settle)) {
		t.Errorf("next %v, want %v", next, late[0].at.Add(settle))
	}
	// Once the first (the ReplicaSet) settles, both go, the Deployment's change first.
	ordered = append(ordered, r.due(late[0].at.Add(settle))...)
	if len(ordered) != 4 || len(r.held) != 0 {
		t.Fatalf("ordered %d, still held %d", len(ordered), len(r.held))
	}
	got := strings.Join(storyTitlesOf(ordered), "\n")
	if !strings.Contains(got, want) {
		t.Errorf("reordered steps:\n%s\nlack %q", got, want)
	}
	// A Gate notice (no resourceVersion) keeps its place at the end.
	r.add(change{kind: "replicaset", obj: late[0].obj, at: t0})
	r.add(change{kind: "held", at: t0})
	if d := r.due(t0.Add(settle)); len(d) != 2 || d[1].kind != "held" {
		t.Errorf("due %+v", d)
	}
}
