package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// kubectl debug adds an ephemeral container through pods/ephemeralcontainers (kubectl 1.32
// panicked on its 404 before); the subresource refuses what kube-apiserver refuses.
func TestEphemeralContainers(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	pods := srv.Clientset().CoreV1().Pods("default")
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	k.ok(args("debug pod/p --image=busybox --target=app"), "Defaulting debug container name to debugger-")
	got, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Spec.EphemeralContainers); n != 1 {
		t.Fatalf("%d ephemeral containers, want 1", n)
	}
	ec := got.Spec.EphemeralContainers[0]
	if ec.Image != "busybox" || ec.TargetContainerName != "app" || ec.ImagePullPolicy != corev1.PullAlways {
		t.Fatalf("ephemeral container: image %q target %q pull %q", ec.Image, ec.TargetContainerName, ec.ImagePullPolicy)
	}

	// A plain update does not touch them.
	got.Spec.EphemeralContainers = nil
	if upd, err := pods.Update(ctx, got, metav1.UpdateOptions{}); err != nil || len(upd.Spec.EphemeralContainers) != 1 {
		t.Fatalf("plain update: %v, ephemeral containers kept: %v", err, upd != nil && len(upd.Spec.EphemeralContainers) == 1)
	}

	refused := []struct {
		name string
		edit func(*corev1.Pod)
		want string
	}{
		{"removed", func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil }, "may not be removed"},
		{"changed", func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "redis" }, "may not be changed"},
		{"same name as app", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ephemeral("app", ""))
		}, "spec.ephemeralContainers[1].name: Duplicate value"},
		{"missing target", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ephemeral("d2", "nope"))
		}, "spec.ephemeralContainers[1].targetContainerName: Not found"},
		{"ports", func(p *corev1.Pod) {
			e := ephemeral("d3", "")
			e.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, e)
		}, "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container"},
	}
	for _, r := range refused {
		p, err := pods.Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.edit(p)
		if _, err := pods.UpdateEphemeralContainers(ctx, "p", p, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Fatalf("%s: got %v, want an error with %q", r.name, err, r.want)
		}
	}
}

func ephemeral(name, target string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{TargetContainerName: target,
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox"}}
}
