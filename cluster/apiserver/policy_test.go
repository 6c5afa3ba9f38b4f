package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
)

// runningPod makes a Running, Ready pod labelled app=web (as a kubelet would report it).
func runningPod(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	p := podWith(name, nil, nil)
	p.Labels = map[string]string{"app": "web"}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func evict(cs kubernetes.Interface, name string) error {
	return cs.PolicyV1().Evictions("default").Evict(context.Background(),
		&policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
}

// The eviction API without a disruption controller: a pod under no budget goes; a
// budget the controller has not seen refuses (429, "still being processed"); a budget
// allowing one disruption lets exactly one of two simultaneous evictions through.
func TestEvictionAPI(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()

	runningPod(t, cs, "free")
	if err := evict(cs, "free"); err != nil {
		t.Fatalf("evicting a pod under no budget: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "free", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		// No kubelet here: a pod never bound is deleted at once.
		t.Fatalf("evicted pod still there: %v", err)
	}

	runningPod(t, cs, "a")
	runningPod(t, cs, "b")
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = evict(cs, "a")
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("budget not yet observed: got %v, want 429", err)
	}
	if causes := err.(*apierrors.StatusError).ErrStatus.Details.Causes; len(causes) != 1 || causes[0].Message != "The disruption budget web is still being processed by the server." {
		t.Fatalf("causes: %+v", causes)
	}

	// What the disruption controller would write: two healthy, one needed.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2, DisruptionsAllowed: 1}
	if _, err := cs.PolicyV1().PodDisruptionBudgets("default").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = evict(cs, name) }()
	}
	wg.Wait()
	passed, refused := 0, ""
	for _, err := range errs {
		switch {
		case err == nil:
			passed++
		case apierrors.IsTooManyRequests(err):
			refused = fmt.Sprint(err.(*apierrors.StatusError).ErrStatus.Details.Causes)
		default:
			t.Fatalf("eviction: %v", err)
		}
	}
	if passed != 1 || !strings.Contains(refused, "The disruption budget web needs 1 healthy pods and has 2 currently") {
		t.Fatalf("two evictions against one allowed disruption: %d passed, refusal causes %s", passed, refused)
	}
	got, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.DisruptionsAllowed != 0 || len(got.Status.DisruptedPods) != 1 {
		t.Fatalf("budget after one eviction: allowed %d, disrupted %v", got.Status.DisruptionsAllowed, got.Status.DisruptedPods)
	}

	bad := pdb.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "both"}
	bad.Spec.MaxUnavailable = &one
	_, err = cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, bad, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "minAvailable and maxUnavailable cannot be both set") {
		t.Fatalf("both set: %v", err)
	}
}
