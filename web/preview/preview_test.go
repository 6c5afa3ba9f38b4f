package preview

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func rs(name string, replicas int32, sel map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: sel}},
	}
}

func pod(name string, l map[string]string, owner *appsv1.ReplicaSet) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: l}}
	if owner != nil {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner.Name, UID: owner.UID, Controller: &t}}
	}
	return p
}

func find(t *testing.T, es []Effect, kind, name string) Effect {
	t.Helper()
	for _, e := range es {
		if e.Kind == kind && e.Name == name {
			return e
		}
	}
	t.Fatalf("no effect for %s %s in %+v", kind, name, es)
	return Effect{}
}

// The seed's walkthrough: `kubectl label pod/echo-rs-xxxxx app-` makes the ReplicaSet
// release the pod and create a replacement; the Service stops sending it traffic.
func TestRelabelOutOfReplicaSet(t *testing.T) {
	r := rs("echo-rs", 1, map[string]string{"app": "echo", "tier": "app"})
	p := pod("echo-rs-9qsrf", map[string]string{"app": "echo", "tier": "app"}, r)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}}}
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "tiers", Namespace: "default"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"tier": "app"}}}
	es := Relabel(p, map[string]string{"tier": "app"}, []*appsv1.ReplicaSet{r}, []*corev1.Service{svc, other}, []*corev1.Pod{p})
	e := find(t, es, "ReplicaSet", "echo-rs")
	if e.Change != "loses" || !strings.Contains(e.Says, "creates 1 replacement pod") || !strings.Contains(e.Says, "releases echo-rs-9qsrf") {
		t.Errorf("rs effect %+v", e)
	}
	if s := find(t, es, "Service", "echo"); s.Change != "loses" {
		t.Errorf("svc effect %+v", s)
	}
	if s := find(t, es, "Service", "tiers"); s.Change != "keeps" {
		t.Errorf("tiers effect %+v", s)
	}
}

// Putting the label back: the ReplicaSet (which made a replacement meanwhile) adopts the
// orphan and deletes one pod.
func TestRelabelBackIntoReplicaSet(t *testing.T) {
	r := rs("echo-rs", 1, map[string]string{"app": "echo", "tier": "app"})
	orphan := pod("echo-rs-9qsrf", map[string]string{"tier": "app"}, nil)
	repl := pod("echo-rs-abcde", map[string]string{"app": "echo", "tier": "app"}, r)
	es := Relabel(orphan, map[string]string{"app": "echo", "tier": "app"}, []*appsv1.ReplicaSet{r}, nil, []*corev1.Pod{orphan, repl})
	e := find(t, es, "ReplicaSet", "echo-rs")
	if e.Change != "gains" || !strings.Contains(e.Says, "adopts echo-rs-9qsrf") || !strings.Contains(e.Says, "deletes 1 pod") {
		t.Errorf("effect %+v", e)
	}
}

func TestRelabelUnrelatedAndOwnedByOther(t *testing.T) {
	a := rs("a", 2, map[string]string{"app": "a"})
	b := rs("b", 1, map[string]string{"app": "b"})
	p := pod("a-1", map[string]string{"app": "a", "x": "1"}, a)
	// Changing an unrelated label keeps everything.
	es := Relabel(p, map[string]string{"app": "a", "x": "2"}, []*appsv1.ReplicaSet{a, b}, nil, []*corev1.Pod{p})
	if len(es) != 1 || es[0].Change != "keeps" {
		t.Errorf("unrelated relabel: %+v", es)
	}
	// Matching b's selector while a still owns it: b cannot adopt.
	es = Relabel(p, map[string]string{"app": "b"}, []*appsv1.ReplicaSet{a, b}, nil, []*corev1.Pod{p})
	if e := find(t, es, "ReplicaSet", "b"); e.Change != "keeps" || !strings.Contains(e.Says, "cannot adopt") {
		t.Errorf("b effect %+v", e)
	}
	if e := find(t, es, "ReplicaSet", "a"); e.Change != "loses" || !strings.Contains(e.Says, "creates 2 replacement pods") {
		t.Errorf("a effect %+v", e)
	}
}
