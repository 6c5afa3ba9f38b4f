package ownerref

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func setup(owner *appsv1.ReplicaSet, canAdopt func(context.Context) error) (*Manager, map[string]string) {
	patches := map[string]string{}
	return &Manager{
		Owner: owner, OwnerGVK: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		Selector: labels.SelectorFromSet(labels.Set{"app": "echo"}),
		Patch: func(_ context.Context, _, name string, patch []byte) error {
			patches[name] = string(patch)
			return nil
		},
		CanAdopt: canAdopt,
	}, patches
}

func pod(name string, lbl map[string]string, owner *appsv1.ReplicaSet) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "p", Labels: lbl}}
	if owner != nil {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner.Name, UID: owner.UID, Controller: &t}}
	}
	return p
}

func TestClaim(t *testing.T) {
	owner := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo", UID: "rs-uid"}}
	other := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "other-uid"}}
	match := map[string]string{"app": "echo"}
	dying := pod("dying-orphan", match, nil)
	now := metav1.NewTime(time.Now())
	dying.DeletionTimestamp = &now
	objs := []*corev1.Pod{
		pod("kept", match, owner),
		pod("released", map[string]string{"app": "x"}, owner),
		pod("adopted", match, nil),
		pod("ignored-orphan", map[string]string{"app": "x"}, nil),
		pod("foreign", match, other),
		dying,
	}
	m, patches := setup(owner, nil)
	got, err := Claim(context.Background(), m, objs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "kept,adopted" {
		t.Errorf("claimed %v", names)
	}
	if len(patches) != 2 || !strings.Contains(patches["released"], `"$patch":"delete"`) || !strings.Contains(patches["adopted"], `"blockOwnerDeletion":true`) {
		t.Errorf("patches %v", patches)
	}
}

func TestNoAdoptionWhenOwnerGoingAway(t *testing.T) {
	owner := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo", UID: "rs-uid"}}
	calls := 0
	m, patches := setup(owner, func(context.Context) error { calls++; return errors.New("deleted") })
	got, err := Claim(context.Background(), m, []*corev1.Pod{pod("a", map[string]string{"app": "echo"}, nil), pod("b", map[string]string{"app": "echo"}, nil)})
	if err == nil || len(got) != 0 || len(patches) != 0 {
		t.Errorf("claimed %d, patches %v, err %v", len(got), patches, err)
	}
	if calls != 1 {
		t.Errorf("owner rechecked %d times, want once", calls)
	}

	// An owner being deleted neither adopts nor releases.
	ts := metav1.NewTime(time.Now())
	owner.DeletionTimestamp = &ts
	m, patches = setup(owner, nil)
	got, _ = Claim(context.Background(), m, []*corev1.Pod{pod("orphan", map[string]string{"app": "echo"}, nil), pod("mislabelled", nil, owner)})
	if len(got) != 0 || len(patches) != 0 {
		t.Errorf("dying owner claimed %d, patched %v", len(got), patches)
	}
}
