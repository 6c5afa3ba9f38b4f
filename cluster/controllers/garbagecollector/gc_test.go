package garbagecollector

import (
	"context"
	"strings"
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

	"webkube/cluster/apiserver/apiservertest"
)

type fixture struct {
	client *fake.Clientset
	g      *Collector
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	g, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Pod:
			factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.ConfigMap:
			factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(o)
		}
	}
	client.ClearActions()
	return &fixture{client: client, g: g}
}

func (f *fixture) sync(t *testing.T, kind, name string) {
	t.Helper()
	for _, r := range f.g.res {
		if r.gvk.Kind == kind {
			if err := f.g.Sync(context.Background(), item{r, "default", name}); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no kind %s", kind)
}

func (f *fixture) verbs() []string {
	var out []string
	for _, a := range f.client.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if n, ok := a.(interface{ GetName() string }); ok {
			s += " " + n.GetName()
		}
		out = append(out, s)
	}
	return out
}

func rs(name string, uid types.UID, finalizers ...string) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid, Finalizers: finalizers}}
	if len(finalizers) > 0 {
		ts := metav1.NewTime(time.Now())
		r.DeletionTimestamp = &ts
	}
	return r
}

func pod(name string, owners ...*appsv1.ReplicaSet) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), ResourceVersion: "7"}}
	for _, o := range owners {
		t := true
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet",
			Name: o.Name, UID: o.UID, Controller: &t, BlockOwnerDeletion: &t})
	}
	return p
}

func TestDanglingDependentIsDeleted(t *testing.T) {
	gone := rs("gone", "gone-uid")
	f := newFixture(t, pod("p", gone)) // the owner exists neither in cache nor in the API
	f.sync(t, "Pod", "p")
	got := strings.Join(f.verbs(), ";")
	// Owner looked up live (not cached); the pod is deleted as cached, on condition
	// that its UID and resourceVersion are still those.
	if got != "get replicasets gone;delete pods p" {
		t.Fatalf("actions %q", got)
	}
	del := f.client.Actions()[1].(k8stesting.DeleteActionImpl)
	if p := del.DeleteOptions.Preconditions; del.DeleteOptions.PropagationPolicy == nil ||
		*del.DeleteOptions.PropagationPolicy != metav1.DeletePropagationBackground ||
		p == nil || *p.UID != "p-uid" || p.ResourceVersion == nil || *p.ResourceVersion != "7" {
		t.Errorf("delete options %+v", del.DeleteOptions)
	}
}

// An owner found gone is remembered: its other dependents cost no lookup (Kubernetes'
// absentOwnerCache), and an owner whose deletion the informer saw costs none at all.
func TestAbsentOwnerLookedUpOnce(t *testing.T) {
	gone := rs("gone", "gone-uid")
	f := newFixture(t, pod("p1", gone), pod("p2", gone))
	f.sync(t, "Pod", "p1")
	f.sync(t, "Pod", "p2")
	if got := strings.Join(f.verbs(), ";"); got != "get replicasets gone;delete pods p1;delete pods p2" {
		t.Fatalf("actions %q", got)
	}

	seen := rs("seen", "seen-uid")
	f = newFixture(t, pod("p3", seen))
	for _, r := range f.g.res {
		if r.gvk.Kind == "ReplicaSet" {
			f.g.handler(r).OnDelete(seen)
		}
	}
	f.sync(t, "Pod", "p3")
	if got := strings.Join(f.verbs(), ";"); got != "delete pods p3" {
		t.Fatalf("after the owner's delete event: actions %q", got)
	}
}

func TestOwnerReplacedByNewUIDCountsAsGone(t *testing.T) {
	f := newFixture(t, pod("p", rs("echo", "old-uid")), rs("echo", "new-uid"))
	f.sync(t, "Pod", "p")
	if got := strings.Join(f.verbs(), ";"); !strings.Contains(got, "delete pods p") {
		t.Errorf("actions %q", got)
	}
}

func TestLiveOwnerKeepsDependent(t *testing.T) {
	owner := rs("echo", "uid-1")
	f := newFixture(t, owner, pod("p", owner))
	f.sync(t, "Pod", "p")
	if got := f.verbs(); len(got) != 0 {
		t.Errorf("actions %v", got)
	}
}

func TestSolidAndDanglingOwnersDropsOnlyTheDanglingRef(t *testing.T) {
	live := rs("live", "live-uid")
	gone := rs("gone", "gone-uid")
	f := newFixture(t, live, pod("p", live, gone))
	f.sync(t, "Pod", "p")
	acts := f.client.Actions()
	if len(acts) != 2 || acts[1].GetVerb() != "patch" {
		t.Fatalf("actions %v", f.verbs())
	}
	patch := string(acts[1].(k8stesting.PatchAction).GetPatch())
	if !strings.Contains(patch, `"$patch":"delete"`) || !strings.Contains(patch, "gone-uid") || strings.Contains(patch, "live-uid") {
		t.Errorf("patch %s", patch)
	}
}

func TestOrphanFinalizer(t *testing.T) {
	owner := rs("echo", "uid-1", metav1.FinalizerOrphanDependents)
	f := newFixture(t, owner, pod("a", owner), pod("b", owner))
	f.sync(t, "ReplicaSet", "echo")
	got := f.verbs()
	if len(got) != 3 || got[0] != "patch pods a" && got[0] != "patch pods b" || got[2] != "patch replicasets echo" {
		t.Fatalf("actions %v", got)
	}
	fin := string(f.client.Actions()[2].(k8stesting.PatchAction).GetPatch())
	if !strings.Contains(fin, `"op":"test"`) || !strings.Contains(fin, `"op":"remove","path":"/metadata/finalizers"`) {
		t.Errorf("finalizer patch %s", fin)
	}
}

func TestForegroundWaitsForBlockingDependents(t *testing.T) {
	owner := rs("echo", "uid-1", metav1.FinalizerDeleteDependents)
	f := newFixture(t, owner, pod("a", owner))
	f.sync(t, "ReplicaSet", "echo")
	if got := f.verbs(); len(got) != 0 {
		t.Fatalf("removed finalizer with a blocking dependent: %v", got)
	}
	// The dependent, looked at, is deleted in the foreground too (its owner waits).
	f.sync(t, "Pod", "a")
	acts := f.client.Actions()
	if len(acts) != 1 || acts[0].GetVerb() != "delete" {
		t.Fatalf("actions %v", f.verbs())
	}
	if p := acts[0].(k8stesting.DeleteActionImpl).DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
		t.Errorf("policy %v", p)
	}
	// Once it is gone, the owner's finalizer goes.
	f = newFixture(t, owner)
	f.sync(t, "ReplicaSet", "echo")
	if got := strings.Join(f.verbs(), ";"); got != "patch replicasets echo" {
		t.Errorf("actions %q", got)
	}
}

func TestOwnersAcrossKinds(t *testing.T) {
	owner := rs("echo", "uid-1")
	t1 := true
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default", UID: "cm-uid",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "echo", UID: "uid-1", Controller: &t1}}}}
	f := newFixture(t, cm) // owner missing
	f.sync(t, "ConfigMap", "cfg")
	if got := strings.Join(f.verbs(), ";"); got != "get replicasets echo;delete configmaps cfg" {
		t.Errorf("actions %q", got)
	}
	f = newFixture(t, cm, owner)
	if deps := f.g.dependents("uid-1"); len(deps) != 1 || deps[0].name != "cfg" {
		t.Errorf("dependents %+v", deps)
	}
}

// Built on informers someone else already started, the collector still finds dependents
// (client-go indexes existing items when an index is added late; scanning otherwise).
func TestStartedInformersFallBackToScanning(t *testing.T) {
	owner := rs("echo", "uid-1")
	client := fake.NewSimpleClientset(owner, pod("a", owner))
	factory := informers.NewSharedInformerFactory(client, 0)
	for _, inf := range resources(client, factory) {
		_ = inf // registers every informer with the factory
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	g, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	if deps := g.dependents("uid-1"); len(deps) != 1 || deps[0].name != "a" {
		t.Errorf("dependents %+v", deps)
	}
	g.res[0].scan = true
	if deps := g.dependents("uid-1"); len(deps) != 1 || deps[0].name != "a" {
		t.Errorf("dependents by scanning %+v", deps)
	}
}

// The cache still shows a reference the owner's orphaning just removed; the stored object
// has none (and a newer resourceVersion), so the real API server refuses the delete and
// nothing is deleted.
func TestStaleCachedOwnerRefIsNotActedOn(t *testing.T) {
	srv := apiservertest.Start(t)
	client := srv.Clientset()
	ctx := context.Background()
	cached, err := client.CoreV1().Pods("default").Create(ctx, withContainer(pod("p", rs("gone", "gone-uid"))), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stripped := cached.DeepCopy()
	stripped.OwnerReferences = nil
	if _, err := client.CoreV1().Pods("default").Update(ctx, stripped, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0)})
	if err != nil {
		t.Fatal(err)
	}
	g.res[0].informer.GetIndexer().Add(cached)
	if err := g.Sync(ctx, item{g.res[0], "default", "p"}); err == nil {
		t.Error("a delete judged on a stale cache succeeded or was not retried")
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod, no longer owned, was deleted: %v", err)
	}
}

func withContainer(p *corev1.Pod) *corev1.Pod {
	p.ResourceVersion, p.UID = "", ""
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "nginx"}}
	return p
}
