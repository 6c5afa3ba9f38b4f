package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestKill9KeepsPods: kill -9 webkube with 5 pods running and start it again: the same
// container processes still run, the pods stay Running, and nothing leaks.
func TestKill9KeepsPods(t *testing.T) {
	c := startCluster(t, "10.251.0.0/16", "wkr")
	for i := 0; i < 5; i++ {
		c.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: keep-%d
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`, i))
	}
	for i := 0; i < 5; i++ {
		c.waitPod(fmt.Sprintf("keep-%d", i), "1/1 Running", 60*time.Second)
	}
	before := snapshot(t, c)
	t.Logf("before kill -9: %+v", before)
	if len(before.pids) != 5 || before.containers != 5 || before.netns != 5 || before.ips != 5 || before.shims < 1 {
		t.Fatalf("snapshot does not see the 5 pods: %+v", before)
	}
	c.kill9()
	// The pods' processes outlive webkube (the shims keep them).
	for _, pid := range before.pids {
		if _, err := os.Stat(filepath.Join("/proc", pid)); err != nil {
			t.Fatalf("container process %s died with webkube", pid)
		}
	}
	c.start()
	for i := 0; i < 5; i++ {
		c.waitPod(fmt.Sprintf("keep-%d", i), "1/1 Running", 30*time.Second)
	}
	// Let the kubelet resync everything once, then compare.
	time.Sleep(3 * time.Second)
	after := snapshot(t, c)
	if strings.Join(before.pids, ",") != strings.Join(after.pids, ",") {
		t.Fatalf("container processes changed across the restart: %v -> %v", before.pids, after.pids)
	}
	if before.containers != after.containers || before.netns != after.netns || before.ips != after.ips || before.shims != after.shims {
		t.Fatalf("leak or loss across the restart:\nbefore %+v\nafter  %+v", before, after)
	}
	for i := 0; i < 5; i++ {
		if rc := c.jsonpath(fmt.Sprintf("pod/keep-%d", i), "{.status.containerStatuses[0].restartCount}"); rc != "0" {
			t.Fatalf("keep-%d restarted (restartCount %s)", i, rc)
		}
	}
	// And the pods still serve.
	ip := c.jsonpath("pod/keep-0", "{.status.podIP}")
	if body, err := httpGet("http://" + ip + ":3000/"); err != nil || !strings.Contains(body, "keep-0") {
		t.Fatalf("keep-0 after restart: %v %q", err, body)
	}
}

type nodeSnapshot struct {
	pids                          []string
	containers, netns, ips, shims int
}

// snapshot counts what the node holds: container pids (from containerd), containers,
// network namespaces and IP reservations of the node, and shim processes of this data dir.
func snapshot(t *testing.T, c *cluster) nodeSnapshot {
	t.Helper()
	sock := filepath.Join(c.dataDir, "containerd", "containerd.sock")
	var s nodeSnapshot
	out, err := exec.Command("ctr", "-a", sock, "-n", "webkube", "tasks", "ls").Output()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "RUNNING" {
			s.pids = append(s.pids, f[1])
		}
	}
	sort.Strings(s.pids)
	out, _ = exec.Command("ctr", "-a", sock, "-n", "webkube", "containers", "ls", "-q").Output()
	s.containers = len(strings.Fields(string(out)))
	cniDir := filepath.Join(c.dataDir, "nodes", "node-1", "cni")
	entries, _ := os.ReadDir(filepath.Join(cniDir, "pods"))
	s.netns = len(entries)
	filepath.Walk(filepath.Join(cniDir, "ipam"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Count(info.Name(), ".") == 3 {
			s.ips++
		}
		return nil
	})
	out, _ = exec.Command("pgrep", "-f", "containerd-shim.*"+c.dataDir).Output()
	s.shims = len(strings.Fields(string(out)))
	return s
}
