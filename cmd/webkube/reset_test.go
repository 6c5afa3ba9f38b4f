package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"webkube/cluster/serviceproxy"
)

const resetWeb = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - {port: 80, targetPort: 3000}
`

// TestReset is issue 9 item 11: `webkube reset --data` removes everything a webkube left
// on the host, and nothing of another webkube running next to it. The first webkube is
// killed with kill -9, which leaves the most behind: running pods and their shims,
// network namespaces, bridge, masquerade rule, ClusterIP interface and iptables chains.
func TestReset(t *testing.T) {
	a := startCluster(t, "10.232.0.0/16", "wkx")
	b := startCluster(t, "10.231.0.0/16", "wky")
	for _, c := range []*cluster{a, b} {
		c.apply(resetWeb)
		c.waitPod("web", "1/1 Running", 90*time.Second)
		c.waitEndpoints("web", 1, 30*time.Second)
	}
	bIP := b.jsonpath("svc/web", "{.spec.clusterIP}")
	if body, err := httpGet("http://" + bIP + "/"); err != nil || !strings.Contains(body, "web") {
		t.Fatalf("second webkube's Service before the reset: %v %q", err, body)
	}

	t.Run("RefusedWhileRunning", func(t *testing.T) {
		out, err := exec.Command(webkubeBin, "reset", "--data-dir", a.dataDir, "--data").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "is running on "+a.dataDir) {
			t.Fatalf("reset of a running webkube: %v\n%s", err, out)
		}
		if _, err := os.Stat(a.dataDir); err != nil {
			t.Fatalf("refused reset touched the data dir: %v", err)
		}
		a.waitPod("web", "1/1 Running", 5*time.Second)
	})

	a.kill9()
	before := leftovers(t, a.dataDir, "wkx")
	t.Logf("left by the killed webkube: %+v", before)
	if before.shims == 0 || before.netns == 0 || len(before.links) < 2 || len(before.rules) == 0 {
		t.Fatalf("the killed webkube left less than expected, the test would prove nothing: %+v", before)
	}

	out, err := exec.Command(webkubeBin, "reset", "--data-dir", a.dataDir, "--data").CombinedOutput()
	t.Logf("webkube reset:\n%s", out)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	after := leftovers(t, a.dataDir, "wkx")
	if after.shims != 0 || after.netns != 0 || len(after.links) != 0 || len(after.rules) != 0 || after.mounts != 0 {
		t.Fatalf("left after reset: %+v", after)
	}
	if _, err := os.Stat(a.dataDir); !os.IsNotExist(err) {
		t.Fatalf("data dir still there after reset --data: %v", err)
	}

	// The other webkube runs on, untouched.
	other := leftovers(t, b.dataDir, "wky")
	if other.shims == 0 || other.netns != 1 || len(other.links) < 2 || len(other.rules) == 0 {
		t.Fatalf("the other webkube lost something: %+v", other)
	}
	b.waitPod("web", "1/1 Running", 5*time.Second)
	if body, err := httpGet("http://" + bIP + "/"); err != nil || !strings.Contains(body, "web") {
		t.Fatalf("second webkube's Service after the reset: %v %q", err, body)
	}
}

type hostState struct {
	shims, netns, mounts int
	links                []string // interfaces with the bridge prefix (bridges, the ClusterIP one)
	rules                []string // nat rules and chains of the instance
}

// leftovers counts what a webkube of dataDir and bridge prefix holds on the host.
func leftovers(t *testing.T, dataDir, prefix string) hostState {
	t.Helper()
	var s hostState
	out, _ := exec.Command("pgrep", "-f", "containerd-shim.*"+dataDir).Output()
	s.shims = len(strings.Fields(string(out)))
	for _, m := range podNetnsMounts(dataDir) { // every mount under it: rootfs ones too
		s.mounts++
		if strings.Contains(m, "/cni/pods/") {
			s.netns++
		}
	}
	s.links = linksMatching(regexp.MustCompile("^" + prefix))
	save, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	tag := serviceproxy.InstanceTag(prefix)
	for _, l := range strings.Split(string(save), "\n") {
		if strings.Contains(l, prefix) || strings.Contains(l, "-"+tag) {
			s.rules = append(s.rules, l)
		}
	}
	return s
}
