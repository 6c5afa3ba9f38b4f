package scheduler_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/volume"
	"webkube/runtime/simnode"
)

// A pod whose claim is missing, then unbound, waits with kube-scheduler's messages, and
// is placed once the PV controller binds the claim to a volume made by hand.
func TestSchedulerWaitsForClaims(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "n1", CPU: "2", Memory: "4Gi"}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vc, err := volume.New(volume.Config{Client: c.Client, VolumesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := vc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMessage := func(want string) {
		t.Helper()
		clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Message == want {
					return true, ""
				}
			}
			return false, "conditions " + conditionsString(p.Status.Conditions) + ", node " + p.Spec.NodeName
		})
	}
	waitMessage(`0/1 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`)

	manual := "manual"
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &manual,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMessage("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
	if node := nodeOf(t, c, "db"); node != "" {
		t.Fatalf("pod with an unbound claim went to %s", node)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "disk"}, Spec: corev1.PersistentVolumeSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: manual,
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: t.TempDir()}}}}
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if node := waitBound(t, c, "db"); node != "n1" {
		t.Fatalf("db went to %q", node)
	}
}

func conditionsString(cs []corev1.PodCondition) string {
	s := ""
	for _, c := range cs {
		s += string(c.Type) + "=" + string(c.Status) + " " + c.Message + "; "
	}
	return s
}
