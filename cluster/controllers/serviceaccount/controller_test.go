package serviceaccount_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/serviceaccount"
	"webkube/internal/eventually"
)

// Against a real API server: every namespace, the bootstrap ones and a new one, gets its
// default ServiceAccount and kube-root-ca.crt; both come back when deleted or changed.
func TestDefaultServiceAccountAndRootCA(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := serviceaccount.New(serviceaccount.Config{Client: cs, RootCA: srv.CAData})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	has := func(ns string) func() (bool, string) {
		return func() (bool, string) {
			_, err1 := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			cm, err2 := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			if err1 != nil || err2 != nil {
				return false, "serviceaccount: " + errString(err1) + "; configmap: " + errString(err2)
			}
			return cm.Data["ca.crt"] == string(srv.CAData), "ca.crt differs from the CA"
		}
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "team"} {
		eventually.That(t, 10*time.Second, ns+" has default and kube-root-ca.crt", has(ns))
	}
	if err := cs.CoreV1().ServiceAccounts("team").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, _ := cs.CoreV1().ConfigMaps("team").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	cm.Data["ca.crt"] = "tampered"
	if _, err := cs.CoreV1().ConfigMaps("team").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "team's default ServiceAccount and CA restored", has("team"))
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
