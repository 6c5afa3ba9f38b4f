package statefulset_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/statefulset"
	"webkube/cluster/stepper"
	"webkube/internal/eventually"
)

// The controller alone against webkube's real API server, a fake clock and recorder; the
// test plays the kubelet, setting the phase and readiness of the pods it creates.

type fixture struct {
	t      *testing.T
	client kubernetes.Interface
	ctx    context.Context
	rec    *record.FakeRecorder
}

func start(t *testing.T, gate *stepper.Gate) *fixture {
	srv := apiservertest.Start(t)
	client := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rec := record.NewFakeRecorder(1000)
	c, err := statefulset.New(statefulset.Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Clock: clocktesting.NewFakeClock(time.Now()), Gate: gate, Recorder: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, client: client, ctx: ctx, rec: rec}
}

func (f *fixture) create(name string, replicas int32, mutate func(*appsv1.StatefulSetSpec)) {
	f.t.Helper()
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: name,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}
	if mutate != nil {
		mutate(&s.Spec)
	}
	if _, err := f.client.AppsV1().StatefulSets("default").Create(f.ctx, s, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) pod(name string) (*corev1.Pod, error) {
	return f.client.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
}

func (f *fixture) waitPod(name string, cond func(*corev1.Pod) bool) *corev1.Pod {
	f.t.Helper()
	var p *corev1.Pod
	eventually.That(f.t, 10*time.Second, "pod "+name, func() (bool, string) {
		var err error
		p, err = f.pod(name)
		return err == nil && cond(p), fmt.Sprint(err)
	})
	return p
}

// report sets the pod Running and Ready, or to phase, as a kubelet would report it.
func (f *fixture) report(p *corev1.Pod, phase corev1.PodPhase) {
	f.t.Helper()
	p = p.DeepCopy()
	p.Status.Phase = phase
	if phase == corev1.PodRunning {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	}
	if _, err := f.client.CoreV1().Pods("default").UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func exists(*corev1.Pod) bool { return true }

// In step mode each creation is held at the gate with what and why, and nothing is created
// before Next; the second ordinal's why names the one it waited for.
func TestStepModeHoldsEachCreation(t *testing.T) {
	gate := stepper.New()
	gate.SetStepMode(true)
	f := start(t, gate)
	f.create("db", 2, nil)
	held := func(pod string) stepper.Step {
		t.Helper()
		var s stepper.Step
		eventually.That(t, 10*time.Second, "held creation of "+pod, func() (bool, string) {
			w := gate.Waiting()
			if len(w) == 0 {
				return false, "nothing held"
			}
			s = w[0]
			return strings.Contains(s.Message, pod), fmt.Sprintf("%+v", w)
		})
		if s.Component != statefulset.Component || s.Action != "create-pod" || s.Why == "" {
			t.Fatalf("held step: %+v", s)
		}
		if _, err := f.pod(pod); !apierrors.IsNotFound(err) {
			t.Fatalf("%s exists while its creation is held: %v", pod, err)
		}
		gate.Next()
		return s
	}
	held("db-0")
	f.report(f.waitPod("db-0", exists), corev1.PodRunning)
	if s := held("db-1"); !strings.Contains(s.Why, "db-0 before it is running and ready") {
		t.Fatalf("why: %q", s.Why)
	}
	f.waitPod("db-1", exists)
}

// A failed pod is deleted and created again under the same name (a new UID), so its
// identity stays; the set's Events say so.
func TestFailedPodRecreatedWithSameName(t *testing.T) {
	f := start(t, nil)
	f.create("db", 1, nil)
	p := f.waitPod("db-0", exists)
	f.report(p, corev1.PodFailed)
	f.waitPod("db-0", func(q *corev1.Pod) bool { return q.UID != p.UID })
	eventually.That(t, 5*time.Second, "events", func() (bool, string) {
		var all []string
		for {
			select {
			case e := <-f.rec.Events:
				all = append(all, e)
				if strings.Contains(e, "SuccessfulDelete delete Pod db-0 in StatefulSet db successful") {
					return true, ""
				}
			default:
				return false, strings.Join(all, "; ")
			}
		}
	})
}

// Status counts the ready, available, current and updated pods, names both revisions and
// observes the generation.
func TestStatusCountsRevisionsAndReadiness(t *testing.T) {
	f := start(t, nil)
	f.create("db", 2, nil)
	f.report(f.waitPod("db-0", exists), corev1.PodRunning)
	f.report(f.waitPod("db-1", exists), corev1.PodRunning)
	eventually.That(t, 10*time.Second, "status", func() (bool, string) {
		s, err := f.client.AppsV1().StatefulSets("default").Get(f.ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := s.Status
		ok := st.Replicas == 2 && st.ReadyReplicas == 2 && st.AvailableReplicas == 2 && st.CurrentReplicas == 2 &&
			st.UpdatedReplicas == 2 && st.CurrentRevision != "" && st.CurrentRevision == st.UpdateRevision &&
			st.ObservedGeneration == s.Generation
		return ok, fmt.Sprintf("%+v", st)
	})
}

// persistentVolumeClaimRetentionPolicy sets the claims' owners as kube's controller does:
// whenScaled: Delete gives a condemned pod's claim that pod as owner before the pod is
// deleted (the garbage collector then deletes the claim with it); whenDeleted: Delete makes
// the set an owner of every claim, and Retain takes that away again.
func TestClaimRetentionOwners(t *testing.T) {
	f := start(t, nil)
	f.create("vol", 2, func(s *appsv1.StatefulSetSpec) {
		s.PodManagementPolicy = appsv1.ParallelPodManagement
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		s.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}}}}}
	})
	owners := func(name string) string {
		pvc, err := f.client.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, r := range pvc.OwnerReferences {
			out = append(out, r.Kind+"/"+r.Name+"/"+string(r.UID))
		}
		return strings.Join(out, ",")
	}
	pod1 := f.waitPod("vol-1", exists)
	f.waitPod("vol-0", exists)
	eventually.That(t, 10*time.Second, "both claims, owned by no one", func() (bool, string) {
		a, b := owners("data-vol-0"), owners("data-vol-1")
		return a == "" && b == "", a + " | " + b
	})
	scale := func(patch string) {
		t.Helper()
		if _, err := f.client.AppsV1().StatefulSets("default").Patch(f.ctx, "vol", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	scale(`{"spec":{"replicas":1}}`)
	want := "Pod/vol-1/" + string(pod1.UID)
	eventually.That(t, 10*time.Second, "data-vol-1 owned by the condemned pod vol-1", func() (bool, string) {
		got := owners("data-vol-1")
		return got == want, got
	})
	if got := owners("data-vol-0"); got != "" {
		t.Fatalf("data-vol-0 of a kept pod has owners %s", got)
	}
	set, err := f.client.AppsV1().StatefulSets("default").Get(f.ctx, "vol", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale(`{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"}}}`)
	eventually.That(t, 10*time.Second, "data-vol-0 owned by the set", func() (bool, string) {
		got := owners("data-vol-0")
		return got == "StatefulSet/vol/"+string(set.UID), got
	})
	scale(`{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain"}}}`)
	eventually.That(t, 10*time.Second, "data-vol-0 owned by no one again", func() (bool, string) {
		got := owners("data-vol-0")
		return got == "", got
	})
}
