package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPullFromLocalRegistry: pods pull from a real registry (Debian's docker-registry on
// loopback); a missing image shows ErrImagePull, then ImagePullBackOff with the
// registry's reason.
func TestPullFromLocalRegistry(t *testing.T) {
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatal("docker-registry not found: apt-get install -y docker-registry")
	}
	regAddr := freeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), regAddr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	reg.Stdout, reg.Stderr = nil, nil
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Process.Kill(); reg.Wait() })

	c := startCluster(t, "10.252.0.0/16", "wkp")
	c.eventually(10*time.Second, "registry up", func() (bool, string) {
		_, err := httpGet("http://" + regAddr + "/v2/")
		return err == nil, fmt.Sprint(err)
	})
	// Put an image into the registry: webkube's own busybox, pushed with ctr.
	sock := filepath.Join(c.dataDir, "containerd", "containerd.sock")
	ref := regAddr + "/lab/hello:1"
	for _, args := range [][]string{
		{"images", "tag", "docker.io/library/busybox:latest", ref},
		{"images", "push", "--plain-http", ref},
		{"images", "rm", ref},
	} {
		if out, err := exec.Command("ctr", append([]string{"-a", sock, "-n", "webkube"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ctr %v: %v\n%s", args, err, out)
		}
	}

	c.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: pulled
spec:
  containers:
    - name: app
      image: %s
      command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  containers:
    - name: app
      image: %s/lab/missing:1
`, ref, regAddr))
	c.waitPod("pulled", "1/1 Running", 60*time.Second)
	ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=pulled")
	if !strings.Contains(ev, "Pulling") || !strings.Contains(ev, "Pulled") {
		t.Fatalf("pull events missing:\n%s", ev)
	}
	c.waitPod("missing", "ErrImagePull", 30*time.Second)
	c.waitPod("missing", "ImagePullBackOff", 30*time.Second)
	msg := c.jsonpath("pod/missing", "{.status.containerStatuses[0].state.waiting.message}")
	if !strings.Contains(msg, "not found") {
		t.Fatalf("ImagePullBackOff message lacks the registry's reason: %q", msg)
	}
	ev = c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=missing")
	for _, want := range []string{"Error: ErrImagePull", "Back-off pulling image", "Error: ImagePullBackOff"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events of the missing image lack %q:\n%s", want, ev)
		}
	}
	c.mustKubectl("delete", "pod", "pulled", "missing", "--grace-period=1")
}
