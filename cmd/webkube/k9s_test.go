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

// k9s, the terminal UI, driven in tmux as a person would: it lists the pods, Deployments
// and Services (its permission checks are SelfSubjectAccessReviews) and opens a pod's logs.
// Each step reads the screen with `tmux capture-pane` until what it waits for is on it.
func TestK9s(t *testing.T) {
	k9s, tmux := clientTool(t, "k9s"), clientTool(t, "tmux")
	c := startCluster(t, "10.235.0.0/16", "wk9")
	c.apply(streamsWeb)
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  containers:
  - name: tick
    image: busybox
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo k9s-tick-$i; sleep 1; done"]
`)
	c.waitPod("ticker", "1/1 Running", 90*time.Second)
	c.eventually(90*time.Second, "web ready", func() (bool, string) {
		out := c.jsonpath("deployment/web", "{.status.readyReplicas}")
		return out == "1", out
	})

	dir := t.TempDir()
	// Its own tmux server (socket) so the test never touches anyone else's sessions.
	// k9s asks GitHub for its latest release unless told not to; this machine has no
	// network beyond loopback, and the test sends nothing anywhere else.
	if err := os.MkdirAll(filepath.Join(dir, "k9s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k9s", "config.yaml"), []byte("k9s:\n  skipLatestRevCheck: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	socket := fmt.Sprintf("webkube-k9s-%d", os.Getpid())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		return string(out), err
	}
	env := []string{"KUBECONFIG=" + c.kubeconfig, "K9S_CONFIG_DIR=" + filepath.Join(dir, "k9s"), "XDG_CONFIG_HOME=" + dir,
		"XDG_STATE_HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CACHE_HOME=" + dir, "TERM=xterm-256color"}
	cmd := "env " + strings.Join(env, " ") + " " + k9s + " --headless --logoless --crumbsless -n default -c pods --logFile " +
		filepath.Join(dir, "k9s.log") + "; sleep 30"
	if out, err := tm("new-session", "-d", "-s", "k9s", "-x", "200", "-y", "50", cmd); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		tm("kill-server") // the tmux server this test started, and k9s in it
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "k9s.log"))
			t.Logf("k9s log (tail):\n%s", tail(string(b), 30))
		}
	})
	screen := func() string { out, _ := tm("capture-pane", "-p", "-t", "k9s"); return out }
	see := func(what string, subs ...string) {
		t.Helper()
		c.eventually(60*time.Second, "k9s shows "+what, func() (bool, string) {
			s := screen()
			for _, sub := range subs {
				if !strings.Contains(s, sub) {
					return false, s
				}
			}
			return true, s
		})
	}
	keys := func(k ...string) {
		t.Helper()
		if out, err := tm(append([]string{"send-keys", "-t", "k9s"}, k...)...); err != nil {
			t.Fatalf("tmux send-keys: %v\n%s", err, out)
		}
	}
	webPod := strings.Fields(c.mustKubectl("get", "pods", "-l", "app=web", "-o", "name"))[0]
	webPod = strings.TrimPrefix(webPod, "pod/")

	see("the pods", "READY", "ticker", webPod, "Running")
	keys(":deploy", "Enter")
	see("the Deployments", "UP-TO-DATE", "AVAILABLE", "web", "1/1")
	keys(":svc", "Enter")
	see("the Services", "CLUSTER-IP", "web", "ClusterIP")
	keys(":pods", "Enter")
	see("the pods again", "READY", "ticker", webPod)
	// Filter the list to the ticker (its row is then the selected one) and open its logs.
	keys("/ticker", "Enter")
	c.eventually(30*time.Second, "the pod list filtered", func() (bool, string) {
		s := screen()
		return strings.Contains(s, "ticker") && !strings.Contains(s, webPod), s
	})
	keys("l")
	see("the ticker's logs", "k9s-tick-")
}
