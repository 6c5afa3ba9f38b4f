package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// The ServiceAccount admission plugin: a pod naming a missing ServiceAccount is refused
// with kube-apiserver's message; an admitted pod gets the kube-api-access-xxxxx projected
// volume (token, ca.crt, namespace) mounted read-only in every container that mounts
// nothing there, and the account's imagePullSecrets; none with automount off.
func TestServiceAccountAdmission(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	pod := func(name, sa string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{ServiceAccountName: sa,
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox",
				VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
			Volumes: []corev1.Volume{{Name: "own", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}
	}
	_, err := cs.CoreV1().Pods("default").Create(ctx, pod("p", "robot"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(),
		`pods "p" is forbidden: error looking up service account default/robot: serviceaccount "robot" not found`) {
		t.Fatalf("pod with a missing service account: %v", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Pods("default").Create(ctx, pod("p", "robot"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var vol *corev1.Volume
	for i, v := range got.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			vol = &got.Spec.Volumes[i]
		}
	}
	if vol == nil || len(vol.Name) != len("kube-api-access-")+5 || vol.Projected == nil || len(vol.Projected.Sources) != 3 {
		t.Fatalf("volumes %+v", got.Spec.Volumes)
	}
	src := vol.Projected.Sources
	if src[0].ServiceAccountToken.Path != "token" || *src[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
		src[1].ConfigMap.Name != "kube-root-ca.crt" || src[1].ConfigMap.Items[0].Path != "ca.crt" ||
		src[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" || *vol.Projected.DefaultMode != 0o644 {
		t.Fatalf("projected sources %+v", src)
	}
	want := corev1.VolumeMount{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
	if m := got.Spec.InitContainers[0].VolumeMounts; len(m) != 1 || m[0] != want {
		t.Errorf("init container mounts %+v", m)
	}
	if m := got.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0] != want {
		t.Errorf("container a mounts %+v", m)
	}
	if m := got.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "own" {
		t.Errorf("container b, which mounts its own volume there, got %+v", m)
	}
	if len(got.Spec.ImagePullSecrets) != 1 || got.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("imagePullSecrets %+v", got.Spec.ImagePullSecrets)
	}
	off := pod("q", "robot")
	off.Spec.AutomountServiceAccountToken = new(bool)
	if got, err = cs.CoreV1().Pods("default").Create(ctx, off, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Volumes) != 1 || len(got.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("automount off: volumes %+v", got.Spec.Volumes)
	}
}
