package deployment

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
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func newDeployment(replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromInt32(1), intstr.FromInt32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default", UID: "d-uid", Generation: 1,
			Annotations: map[string]string{ChangeCauseAnnotation: "because"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
}

// rsFor builds the ReplicaSet the controller would have made for d's template.
func rsFor(d *appsv1.Deployment, image string, revision string, replicas, available int32, age time.Duration) *appsv1.ReplicaSet {
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Spec.Containers[0].Image = image
	hash := ComputeHash(tmpl, nil)
	tmpl.Labels = withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: types.UID("uid-rs-" + hash),
			Labels:            tmpl.Labels,
			Annotations:       map[string]string{RevisionAnnotation: revision, DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"},
			CreationTimestamp: metav1.NewTime(now.Add(-age)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: *tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
}

type fixture struct {
	client *fake.Clientset
	c      *Controller
	rec    *record.FakeRecorder
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{Client: client, Informers: factory, Clock: clocktesting.NewFakeClock(now), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			factory.Apps().V1().Deployments().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		}
	}
	return &fixture{client: client, c: c, rec: rec}
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.Sync(context.Background(), "default/echo"); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) rsUpdates() map[string]*appsv1.ReplicaSet {
	out := map[string]*appsv1.ReplicaSet{}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "replicasets" && a.GetSubresource() == "" {
			rs := a.(k8stesting.UpdateAction).GetObject().(*appsv1.ReplicaSet)
			out[rs.Name] = rs
		}
	}
	return out
}

func TestComputeHash(t *testing.T) {
	d := newDeployment(1, "a")
	h1 := ComputeHash(&d.Spec.Template, nil)
	if h1 != ComputeHash(d.Spec.Template.DeepCopy(), nil) {
		t.Error("hash not stable")
	}
	if h1 == ComputeHash(&d.Spec.Template, ptr(int32(1))) {
		t.Error("collision count ignored")
	}
	d2 := newDeployment(1, "b")
	if h1 == ComputeHash(&d2.Spec.Template, nil) {
		t.Error("different templates, same hash")
	}
	if strings.ContainsAny(h1, "aeiou013") {
		t.Errorf("hash %q uses characters Kubernetes avoids", h1)
	}
}

func TestFenceposts(t *testing.T) {
	for _, tc := range []struct {
		replicas            int32
		surge, unavail      intstr.IntOrString
		wantSurge, wantUnav int32
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2},
		{3, intstr.FromInt32(1), intstr.FromInt32(0), 1, 0},
		{3, intstr.FromInt32(0), intstr.FromInt32(0), 0, 1},
		{4, intstr.FromString("50%"), intstr.FromString("10%"), 2, 0},
	} {
		d := newDeployment(tc.replicas, "x")
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavail}
		if s, u := maxSurge(d), maxUnavailable(d); s != tc.wantSurge || u != tc.wantUnav {
			t.Errorf("%d replicas %v/%v: surge %d unavailable %d, want %d/%d", tc.replicas, tc.surge.String(), tc.unavail.String(), s, u, tc.wantSurge, tc.wantUnav)
		}
	}
}

func TestSyncCreatesFirstReplicaSet(t *testing.T) {
	d := newDeployment(3, "v1")
	f := newFixture(t, d)
	f.sync(t)
	var created *appsv1.ReplicaSet
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "replicasets" {
			created = a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		}
	}
	if created == nil {
		t.Fatal("no ReplicaSet created")
	}
	hash := ComputeHash(&d.Spec.Template, nil)
	if created.Name != "echo-"+hash || created.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		created.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("created %s labels %v selector %v", created.Name, created.Spec.Template.Labels, created.Spec.Selector)
	}
	// A brand-new rollout may start all pods at once (nothing old to keep available).
	if *created.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *created.Spec.Replicas)
	}
	a := created.Annotations
	if a[RevisionAnnotation] != "1" || a[ChangeCauseAnnotation] != "because" || a[DesiredReplicasAnnotation] != "3" || a[MaxReplicasAnnotation] != "4" {
		t.Errorf("annotations %v", a)
	}
	if e := <-f.rec.Events; e != "Normal ScalingReplicaSet Scaled up replica set echo-"+hash+" from 0 to 3" {
		t.Errorf("event %q", e)
	}
}

// Mid-rollout with maxSurge 1 / maxUnavailable 0: the new RS grows by one only once the
// total is below 4, and the old one shrinks only by what is available beyond 3.
func TestRollingUpdateRespectsSurgeAndAvailability(t *testing.T) {
	d := newDeployment(3, "v2")
	old := rsFor(d, "v1", "1", 3, 3, time.Hour)
	f := newFixture(t, d, old)
	f.sync(t)
	var created *appsv1.ReplicaSet
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "replicasets" {
			created = a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		}
	}
	if created == nil || *created.Spec.Replicas != 1 || created.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("new RS %+v", created)
	}
	if n := len(f.rsUpdates()); n != 0 {
		t.Fatalf("old RS touched before the new pod is available: %v", f.rsUpdates())
	}

	// The new pod became available: 4 available, so one old pod can go.
	newRS := rsFor(d, "v2", "2", 1, 1, time.Minute)
	f = newFixture(t, d, old, newRS)
	f.sync(t)
	up := f.rsUpdates()
	if got, ok := up[old.Name]; !ok || *got.Spec.Replicas != 2 {
		t.Fatalf("old RS updates %v", up)
	}
	if got, ok := up[newRS.Name]; ok && *got.Spec.Replicas != 1 {
		t.Errorf("new RS grew to %d while total was at the surge limit", *got.Spec.Replicas)
	}
}

// `kubectl rollout undo` puts revision 1's template back: the controller reuses that
// ReplicaSet and makes it revision 3.
func TestRollbackReusesOldReplicaSet(t *testing.T) {
	d := newDeployment(3, "v1")
	d.Annotations[RevisionAnnotation] = "2"
	first := rsFor(d, "v1", "1", 0, 0, 2*time.Hour)
	second := rsFor(d, "v2", "2", 3, 3, time.Hour)
	f := newFixture(t, d, first, second)
	f.sync(t)
	up := f.rsUpdates()
	got, ok := up[first.Name]
	if !ok || got.Annotations[RevisionAnnotation] != "3" || got.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Fatalf("first RS after rollback: %+v", up)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "replicasets" {
			t.Error("created a new ReplicaSet instead of reusing the old one")
		}
	}
}

// Resizing mid-rollout spreads the change in proportion to each ReplicaSet's size.
func TestProportionalScaling(t *testing.T) {
	d := newDeployment(20, "v2")
	d.Spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(2))
	old := rsFor(d, "v1", "1", 8, 8, time.Hour)
	newRS := rsFor(d, "v2", "2", 4, 0, time.Minute)
	for _, rs := range []*appsv1.ReplicaSet{old, newRS} {
		rs.Annotations[DesiredReplicasAnnotation] = "10"
		rs.Annotations[MaxReplicasAnnotation] = "12"
	}
	d.Status.Replicas = 12
	f := newFixture(t, d, old, newRS)
	f.sync(t)
	up := f.rsUpdates()
	// Allowed 20+2=22, had 12: each RS scales by 22/12 (its size at the last known max):
	// old 8*22/12 = 14.67 -> 15, new 4*22/12 = 7.33 -> 7.
	if o, n := *up[old.Name].Spec.Replicas, *up[newRS.Name].Spec.Replicas; o+n != 22 || o != 15 || n != 7 {
		t.Errorf("old %d new %d, want 15 and 7", o, n)
	}
	if up[old.Name].Annotations[DesiredReplicasAnnotation] != "20" {
		t.Errorf("desired annotation %v", up[old.Name].Annotations)
	}
}

func TestStatusAndConditions(t *testing.T) {
	d := newDeployment(3, "v1")
	rs := rsFor(d, "v1", "1", 3, 3, time.Hour)
	d.Annotations[RevisionAnnotation] = "1"
	f := newFixture(t, d, rs)
	f.sync(t)
	var st *appsv1.DeploymentStatus
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			st = &a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment).Status
		}
	}
	if st == nil {
		t.Fatal("no status update")
	}
	if st.Replicas != 3 || st.UpdatedReplicas != 3 || st.AvailableReplicas != 3 || st.ReadyReplicas != 3 || st.UnavailableReplicas != 0 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	av, pr := getCondition(*st, appsv1.DeploymentAvailable), getCondition(*st, appsv1.DeploymentProgressing)
	if av == nil || av.Reason != ReasonMinAvailable || av.Status != corev1.ConditionTrue {
		t.Errorf("available %+v", av)
	}
	if pr == nil || pr.Reason != ReasonNewRSAvailable || pr.Message != `ReplicaSet "`+rs.Name+`" has successfully progressed.` {
		t.Errorf("progressing %+v", pr)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := newDeployment(3, "v2")
	d.Spec.ProgressDeadlineSeconds = ptr(int32(60))
	d.Annotations[RevisionAnnotation] = "2"
	old := rsFor(d, "v1", "1", 3, 3, time.Hour)
	newRS := rsFor(d, "v2", "2", 1, 0, time.Hour)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3, ReadyReplicas: 3, UnavailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: ReasonRSUpdated,
			LastUpdateTime: metav1.NewTime(now.Add(-2 * time.Minute)), LastTransitionTime: metav1.NewTime(now.Add(-2 * time.Minute))}}}
	f := newFixture(t, d, old, newRS)
	f.sync(t)
	var st *appsv1.DeploymentStatus
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			st = &a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment).Status
		}
	}
	if st == nil {
		t.Fatal("no status update")
	}
	pr := getCondition(*st, appsv1.DeploymentProgressing)
	if pr == nil || pr.Status != corev1.ConditionFalse || pr.Reason != ReasonTimedOut {
		t.Errorf("progressing %+v", pr)
	}
}

// An old ReplicaSet whose status still counts pods it was just told to drop must never be
// scaled back up (seen as "Scaled up replica set <old> from 1 to 2" mid-rollout).
func TestStaleOldStatusNeverScalesOldUp(t *testing.T) {
	d := newDeployment(3, "v2")
	d.Annotations[RevisionAnnotation] = "2"
	old := rsFor(d, "v1", "1", 1, 2, time.Hour) // spec 1, status still 2 available
	newRS := rsFor(d, "v2", "2", 3, 3, time.Minute)
	f := newFixture(t, d, old, newRS)
	f.sync(t)
	if got, ok := f.rsUpdates()[old.Name]; ok && *got.Spec.Replicas > 1 {
		t.Fatalf("old ReplicaSet scaled up to %d", *got.Spec.Replicas)
	}
	for len(f.rec.Events) > 0 {
		if e := <-f.rec.Events; strings.Contains(e, "Scaled up replica set "+old.Name) {
			t.Errorf("event %q", e)
		}
	}
}
