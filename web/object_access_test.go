package web

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
	"webkube/web/templates"
)

// A Secret's page names its keys and sizes and the pods using it, never a value; a
// ServiceAccount's page lists the pods running as it.
func TestSecretAndServiceAccountPages(t *testing.T) {
	api := apiservertest.Start(t)
	cs := api.Clientset()
	ctx := context.Background()
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "s3cr3t"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: corev1.PodSpec{ServiceAccountName: "robot",
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Env: []corev1.EnvVar{{Name: "PW",
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Client: cs, RESTConfig: api.RESTConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.Start(dctx); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "the Secret page lists its key and the pod using it", func() (bool, string) {
		o, ok := d.object("secret", "default", "db")
		page := strings.Join([]string{o.Kind, o.Status, labelsText(o.Facts), refsText(o.Owned), o.YAML}, "\n")
		return ok && strings.Contains(page, "data password: 6 bytes") && strings.Contains(page, "is used by Pod/app") &&
			strings.Contains(page, "password: PDYgYnl0ZXM+"), page // base64 of "<6 bytes>"
	})
	if o, _ := d.object("secret", "default", "db"); strings.Contains(o.YAML, "czNjcjN0") || strings.Contains(labelsText(o.Facts), "s3cr3t") {
		t.Fatalf("the Secret page shows its value:\n%s", o.YAML)
	}
	eventually.That(t, 5*time.Second, "the ServiceAccount page lists the pod running as it", func() (bool, string) {
		o, ok := d.object("serviceaccount", "default", "robot")
		text := o.Status + " " + refsText(o.Owned)
		return ok && strings.Contains(text, "system:serviceaccount:default:robot") && strings.Contains(text, "runs Pod/app"), text
	})
}

func labelsText(ls []templates.Label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Key + ": " + l.Value + "\n")
	}
	return b.String()
}

func refsText(rs []templates.Ref) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Verb + " " + r.Kind + "/" + r.Name + "\n")
	}
	return b.String()
}
