package apiservertest_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"webkube/cluster/apiserver/apiservertest"
)

func TestStartRestartKubeconfig(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}
	if _, err := srv.Clientset().CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := srv.URL
	srv.Restart(t)
	if srv.URL != url {
		t.Fatalf("URL changed across restart: %s → %s", url, srv.URL)
	}
	// The kubeconfig file (as kubectl reads it) reaches the restarted server.
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("object lost across restart or kubeconfig unusable: %v", err)
	}
	// Without the token nothing is served.
	cfg.BearerToken = ""
	cs, _ = kubernetes.NewForConfig(cfg)
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err == nil {
		t.Fatal("request without token succeeded")
	}
}
