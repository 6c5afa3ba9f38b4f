package simnode

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"webkube/internal/eventually"
)

func TestNodeRegistersAndRunsPods(t *testing.T) {
	client := fake.NewSimpleClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := New(Config{Client: client, Name: "sim-1", CPU: "2", Memory: "4Gi", Pods: 20, PodCIDR: "10.9.0.0/24",
		Labels: map[string]string{"zone": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "sim-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels["zone"] != "a" || node.Labels["kubernetes.io/hostname"] != "sim-1" {
		t.Errorf("labels %v", node.Labels)
	}
	alloc := node.Status.Allocatable
	if alloc.Cpu().String() != "2" || alloc.Memory().String() != "4Gi" || alloc.Pods().Value() != 20 {
		t.Errorf("allocatable %v", alloc)
	}
	if len(node.Status.Conditions) != 1 || node.Status.Conditions[0].Type != corev1.NodeReady || node.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("conditions %+v", node.Status.Conditions)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "p-uid"},
		Spec: corev1.PodSpec{NodeName: "sim-1", Containers: []corev1.Container{{Name: "a", Image: "img"}, {Name: "b", Image: "img2"}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	eventually.True(t, 5*time.Second, "pod running", func() bool {
		got, _ = client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		return got != nil && got.Status.Phase == corev1.PodRunning
	})
	if ip, err := netip.ParseAddr(got.Status.PodIP); err != nil || !netip.MustParsePrefix("10.9.0.0/24").Contains(ip) {
		t.Errorf("pod IP %q", got.Status.PodIP)
	}
	if got.Status.HostIP == "" || got.Status.StartTime == nil || got.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status %+v", got.Status)
	}
	conds := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range got.Status.Conditions {
		conds[c.Type] = c.Status
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if conds[ct] != corev1.ConditionTrue {
			t.Errorf("condition %s = %q", ct, conds[ct])
		}
	}
	if len(got.Status.ContainerStatuses) != 2 || got.Status.ContainerStatuses[1].State.Running == nil || !got.Status.ContainerStatuses[1].Ready {
		t.Errorf("container statuses %+v", got.Status.ContainerStatuses)
	}

	// A pod bound elsewhere is not ours.
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "elsewhere"}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Graceful deletion: the node confirms at once (nothing to stop).
	got = got.DeepCopy()
	now := metav1.Now()
	got.DeletionTimestamp = &now
	if _, err := client.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "pod removed", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	q, err := client.CoreV1().Pods("default").Get(ctx, "q", metav1.GetOptions{})
	if err != nil || q.Status.Phase != "" {
		t.Errorf("touched a pod on another node: %+v %v", q.Status, err)
	}
}

func TestConfigErrors(t *testing.T) {
	client := fake.NewSimpleClientset()
	for _, cfg := range []Config{
		{Name: "x"},
		{Client: client},
		{Client: client, Name: "x", CPU: "lots"},
		{Client: client, Name: "x", PodCIDR: "nope"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestNodeRegistersAgainAfterDeletion(t *testing.T) {
	client := fake.NewSimpleClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := New(Config{Client: client, Name: "sim-1", Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "sim-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "node back", func() bool {
		node, err := client.CoreV1().Nodes().Get(ctx, "sim-1", metav1.GetOptions{})
		return err == nil && len(node.Status.Conditions) == 1
	})
}
