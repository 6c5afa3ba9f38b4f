package images_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"

	"webkube/runtime/images"
)

// A registry that wants a password: a pull without credentials fails with its 401, one
// with the credentials of a .dockerconfigjson (as a pod's imagePullSecrets give) succeeds.
func TestPullWithImagePullSecret(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cr3t"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("learner:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := startRegistryWith(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: webkube-test\n    path: %s\n", htpasswd))

	cfg := fmt.Sprintf(`{"auths":{"%s":{"auth":"%s"}}}`, reg, base64.StdEncoding.EncodeToString([]byte("learner:s3cr3t")))
	auth := images.Auth{}
	if err := images.ParseDockerConfig([]byte(cfg), false, auth); err != nil {
		t.Fatal(err)
	}
	bb, err := e.client.GetImage(ctx, "docker.io/library/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	ref := reg + "/private/bb:v1"
	if err := e.client.Push(ctx, ref, bb.Target(), containerd.WithResolver(e.svc.ResolverWithAuth(auth))); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	_, err = e.svc.Ensure(ctx, ref, corev1.PullAlways, nil)
	if err == nil || !strings.Contains(err.Error(), "pull access denied") || !strings.Contains(err.Error(), "no basic auth credentials") {
		t.Fatalf("pull without credentials: want containerd's 'pull access denied ... no basic auth credentials', got %v", err)
	}
	img, err := e.svc.EnsureWithAuth(ctx, ref, corev1.PullAlways, auth, nil)
	if err != nil {
		t.Fatalf("pull with the imagePullSecret's credentials: %v", err)
	}
	if img.Name() != ref {
		t.Fatalf("pulled %s, want %s", img.Name(), ref)
	}
}
