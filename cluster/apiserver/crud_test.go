package apiserver_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}
}

func TestCRUD(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")

	t.Run("OK", func(t *testing.T) {
		created, err := pods.Create(ctx, pod("a", map[string]string{"app": "x"}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
			t.Fatalf("server fields not set: %+v", created.ObjectMeta)
		}
		got, err := pods.Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != created.ResourceVersion || got.Status.Phase != corev1.PodPending {
			t.Fatalf("get = rv %s phase %s, want rv %s Pending", got.ResourceVersion, got.Status.Phase, created.ResourceVersion)
		}
		got.Labels["tier"] = "web"
		upd, err := pods.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if upd.ResourceVersion == got.ResourceVersion {
			t.Fatal("update did not change resourceVersion")
		}
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.ResourceVersion == "" {
			t.Fatalf("list = %d items rv %q", len(list.Items), list.ResourceVersion)
		}
		if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("get after delete: %v, want NotFound", err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		p, err := pods.Create(ctx, pod("c", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stale := p.DeepCopy()
		p.Labels = map[string]string{"v": "1"}
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		stale.Labels = map[string]string{"v": "2"}
		_, err = pods.Update(ctx, stale, metav1.UpdateOptions{})
		want := `Operation cannot be fulfilled on pods "c": the object has been modified; please apply your changes to the latest version and try again`
		if !apierrors.IsConflict(err) || err.Error() != want {
			t.Fatalf("stale update: %v", err)
		}
	})
	t.Run("ErrNamespaceNotFound", func(t *testing.T) {
		_, err := cs.CoreV1().Pods("nope").Create(ctx, pod("x", nil), metav1.CreateOptions{})
		if !apierrors.IsNotFound(err) || err.Error() != `namespaces "nope" not found` {
			t.Fatalf("create in missing namespace: %v", err)
		}
	})
	t.Run("ErrAlreadyExists", func(t *testing.T) {
		if _, err := pods.Create(ctx, pod("dup", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := pods.Create(ctx, pod("dup", nil), metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) || err.Error() != `pods "dup" already exists` {
			t.Fatalf("duplicate create: %v", err)
		}
	})
}
