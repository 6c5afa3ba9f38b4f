package replicaset

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	c       *Controller
	clock   *clocktesting.FakeClock
	rec     *record.FakeRecorder
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	client := fake.NewSimpleClientset(objs...)
	var n atomic.Int32
	// The fake tracker does not implement generateName; the API server does.
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	f := &fixture{t: t, client: client, factory: informers.NewSharedInformerFactory(client, 0),
		clock: clocktesting.NewFakeClock(now), rec: record.NewFakeRecorder(100)}
	c, err := New(Config{Client: client, Informers: f.factory, Clock: f.clock, Recorder: f.rec})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			f.factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			f.factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	return f
}

func (f *fixture) sync() error {
	f.client.ClearActions()
	return f.c.Sync(context.Background(), "default/echo")
}

func (f *fixture) actions(verb, resource string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			out = append(out, a)
		}
	}
	return out
}

func newRS(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default", UID: "rs-uid", Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo", "tier": "app"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "echo:v1"}}},
			},
		},
	}
}

func newPod(name string, rs *appsv1.ReplicaSet, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
		Labels: labels, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}
	if rs != nil {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &t}}
	}
	return p
}

func running(p *corev1.Pod, node string, readySince time.Time) *corev1.Pod {
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}
	return p
}

func TestSyncCreatesOnceUntilObserved(t *testing.T) {
	rs := newRS(3)
	f := newFixture(t, rs)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	creates := f.actions("create", "pods")
	if len(creates) != 3 {
		t.Fatalf("%d creates, want 3", len(creates))
	}
	p := creates[0].(k8stesting.CreateAction).GetObject().(*corev1.Pod)
	ref := metav1.GetControllerOf(p)
	if p.GenerateName != "echo-" || ref == nil || ref.UID != rs.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion ||
		p.Labels["tier"] != "app" {
		t.Errorf("created pod %+v", p.ObjectMeta)
	}
	if e := <-f.rec.Events; !strings.HasPrefix(e, "Normal SuccessfulCreate Created pod: echo-") {
		t.Errorf("event %q", e)
	}

	// The informer has not delivered the pods yet: a second sync must not create more.
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.actions("create", "pods")); n != 0 {
		t.Fatalf("second sync created %d pods before the first ones were observed", n)
	}
	// They arrive; now the cache shows 3 and nothing is created.
	stored, err := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(stored.Items) != 3 {
		t.Fatalf("stored pods %d, %v", len(stored.Items), err)
	}
	for i := range stored.Items {
		p := &stored.Items[i]
		f.factory.Core().V1().Pods().Informer().GetIndexer().Add(p)
		f.c.addPod(p)
	}
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.actions("create", "pods")); n != 0 {
		t.Fatalf("created %d more", n)
	}
}

func TestSyncSlowStartStopsOnError(t *testing.T) {
	f := newFixture(t, newRS(20))
	var calls atomic.Int32
	f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls.Add(1)
		return true, nil, fmt.Errorf("quota exceeded")
	})
	if err := f.sync(); err == nil {
		t.Fatal("want error")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d create calls after the first failed, want 1 (slow start)", n)
	}
	st := f.actions("update", "replicasets")
	if len(st) != 1 {
		t.Fatalf("status updates %d", len(st))
	}
	got := st[0].(k8stesting.UpdateAction).GetObject().(*appsv1.ReplicaSet).Status
	if len(got.Conditions) != 1 || got.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || got.Conditions[0].Reason != "FailedCreate" {
		t.Errorf("conditions %+v", got.Conditions)
	}
	// The failed creations were never going to be observed: the next sync may try again.
	if !f.c.exp.Satisfied("default/echo") {
		t.Error("expectations still pending after failed creates")
	}
}

func TestSyncDeletesLeastValuablePods(t *testing.T) {
	rs := newRS(2)
	labels := map[string]string{"app": "echo", "tier": "app"}
	old := now.Add(-time.Hour)
	objs := []runtime.Object{rs,
		newPod("unscheduled", rs, labels),
		running(newPod("ready-long", rs, labels), "n1", old.Add(-time.Hour)),
		running(newPod("ready-new", rs, labels), "n1", old),
		func() runtime.Object {
			p := newPod("pending", rs, labels)
			p.Spec.NodeName = "n1"
			p.Status.Phase = corev1.PodPending
			return p
		}(),
	}
	f := newFixture(t, objs...)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range f.actions("delete", "pods") {
		deleted = append(deleted, a.(k8stesting.DeleteAction).GetName())
	}
	if strings.Join(deleted, ",") != "unscheduled,pending" && strings.Join(deleted, ",") != "pending,unscheduled" {
		t.Errorf("deleted %v, want unscheduled and pending", deleted)
	}
}

func TestVictimOrder(t *testing.T) {
	mk := func(name string, f func(*corev1.Pod)) *corev1.Pod {
		p := newPod(name, nil, nil)
		f(p)
		return p
	}
	pods := []*corev1.Pod{
		mk("ready-old", func(p *corev1.Pod) { running(p, "n", now.Add(-2*time.Hour)) }),
		mk("ready-young", func(p *corev1.Pod) { running(p, "n", now.Add(-time.Minute)) }),
		mk("running-unready", func(p *corev1.Pod) { running(p, "n", now); p.Status.Conditions[0].Status = corev1.ConditionFalse }),
		mk("unknown", func(p *corev1.Pod) { p.Spec.NodeName = "n"; p.Status.Phase = corev1.PodUnknown }),
		mk("pending", func(p *corev1.Pod) { p.Spec.NodeName = "n"; p.Status.Phase = corev1.PodPending }),
		mk("unassigned", func(p *corev1.Pod) {}),
		mk("restarty", func(p *corev1.Pod) {
			running(p, "n", now.Add(-2*time.Hour))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 5}}
		}),
	}
	got := pickVictims(pods, len(pods))
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	want := "unassigned,pending,unknown,running-unready,ready-young,restarty,ready-old"
	if strings.Join(names, ",") != want {
		t.Errorf("order %v\nwant  %s", names, want)
	}
}

func TestSyncReleasesAndAdopts(t *testing.T) {
	rs := newRS(1)
	f := newFixture(t, rs,
		running(newPod("released", rs, map[string]string{"tier": "app"}), "n", now), // ours, label gone
		running(newPod("orphan", nil, map[string]string{"app": "echo"}), "n", now),  // matches, no owner
		running(newPod("foreign", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "other"}},
			map[string]string{"app": "echo"}), "n", now),
	)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	patches := map[string]string{}
	for _, a := range f.actions("patch", "pods") {
		pa := a.(k8stesting.PatchAction)
		patches[pa.GetName()] = string(pa.GetPatch())
	}
	if p := patches["released"]; !strings.Contains(p, `"$patch":"delete"`) || !strings.Contains(p, `"uid":"rs-uid"`) {
		t.Errorf("release patch %q", p)
	}
	if p := patches["orphan"]; !strings.Contains(p, `"controller":true`) || !strings.Contains(p, `"kind":"ReplicaSet"`) {
		t.Errorf("adopt patch %q", p)
	}
	if _, ok := patches["foreign"]; ok {
		t.Error("touched another controller's pod")
	}
	// The adopted pod fills the one replica: nothing created or deleted.
	if n := len(f.actions("create", "pods")) + len(f.actions("delete", "pods")); n != 0 {
		t.Errorf("%d creates/deletes", n)
	}
}

func TestStatusCountsAvailabilityAfterMinReadySeconds(t *testing.T) {
	rs := newRS(2)
	rs.Spec.MinReadySeconds = 30
	labels := map[string]string{"app": "echo", "tier": "app"}
	f := newFixture(t, rs,
		running(newPod("a", rs, labels), "n", now.Add(-time.Minute)),
		running(newPod("b", rs, map[string]string{"app": "echo"}), "n", now.Add(-10*time.Second)),
	)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	st := f.actions("update", "replicasets")[0].(k8stesting.UpdateAction).GetObject().(*appsv1.ReplicaSet).Status
	want := appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2}
	if st.Replicas != want.Replicas || st.FullyLabeledReplicas != want.FullyLabeledReplicas || st.ReadyReplicas != want.ReadyReplicas ||
		st.AvailableReplicas != want.AvailableReplicas || st.ObservedGeneration != want.ObservedGeneration {
		t.Errorf("status %+v, want %+v", st, want)
	}
}
