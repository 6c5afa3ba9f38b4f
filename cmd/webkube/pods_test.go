package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"webkube/web/examples"
)

// The notes' own objects, as the dashboard offers them.
var (
	seedEchoPod    = examples.Get("echo-pod")
	seedProbePod   = examples.Get("probe-pod")
	seedCounterPod = examples.Get("counter-pod")
)

// TestPods runs the seed's pods on real containerd, as issue 4 asks.
func TestPods(t *testing.T) {
	c := startCluster(t, "10.250.0.0/16", "wkt")

	t.Run("SeedEchoPod", func(t *testing.T) {
		c.t = t
		c.apply(seedEchoPod)
		c.waitPod("echo", "Running", 60*time.Second)
		ip := c.jsonpath("pod/echo", "{.status.podIP}")
		if !strings.HasPrefix(ip, "10.250.1.") {
			t.Fatalf("pod IP %q is not from node-1's subnet 10.250.1.0/24", ip)
		}
		body, err := httpGet("http://" + ip + ":3000/hello")
		if err != nil || !strings.Contains(body, "Hostname: echo") || !strings.Contains(body, "GET /hello") {
			t.Fatalf("curl %s:3000: %v\n%s", ip, err, body)
		}
		if out := c.mustKubectl("logs", "echo"); !strings.Contains(out, "GET /hello") {
			t.Fatalf("kubectl logs echo does not show the request:\n%s", out)
		}

		// logs -f shows a new request while it happens.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		follow := exec.CommandContext(ctx, "kubectl", "--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir, "logs", "-f", "echo")
		stdout, _ := follow.StdoutPipe()
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		time.Sleep(500 * time.Millisecond)
		if _, err := httpGet("http://" + ip + ":3000/followed"); err != nil {
			t.Fatal(err)
		}
		found := false
		for !found {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("kubectl logs -f ended before the new line")
				}
				found = strings.Contains(l, "GET /followed")
			case <-ctx.Done():
				t.Fatal("kubectl logs -f did not show the new request")
			}
		}
		cancel()
		follow.Wait()

		if out := c.mustKubectl("exec", "echo", "--", "ls", "/"); !strings.Contains(out, "bin") {
			t.Fatalf("kubectl exec echo -- ls: %s", out)
		}
		_, err = c.kubectl("exec", "echo", "--", "sh", "-c", "exit 7")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Fatalf("exit code of `exec -- sh -c 'exit 7'`: %v, want 7", err)
		}
		// -it under a real pty (script gives kubectl one), as a learner types it.
		cmdline := fmt.Sprintf("printf 'tty; echo inside-$((40+2)); exit 3\\n' | script -qec 'kubectl --kubeconfig %s --cache-dir %s exec -it echo -- sh' /dev/null", c.kubeconfig, c.cacheDir)
		out, err := exec.Command("sh", "-c", cmdline).CombinedOutput()
		if !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "inside-42") {
			t.Fatalf("exec -it: want a pty and the shell's output, got %v:\n%s", err, out)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("exec -it exit code: %v, want 3\n%s", err, out)
		}

		uid := c.jsonpath("pod/echo", "{.metadata.uid}")
		c.mustKubectl("delete", "pod", "echo")
		if out, _ := c.kubectl("get", "pod", "echo"); !strings.Contains(out, "NotFound") {
			t.Fatalf("pod still there after delete: %s", out)
		}
		assertPodGone(t, c, uid, ip)
	})

	t.Run("SeedProbePod", func(t *testing.T) {
		c.t = t
		c.apply(seedProbePod)
		c.waitPod("echo-probe", "Running", 60*time.Second)
		// The readiness probe first runs after initialDelaySeconds (5 s).
		if ready := c.jsonpath("pod/echo-probe", "{.status.containerStatuses[0].ready}"); ready != "false" {
			t.Fatalf("ready before the readiness probe ran: %q", ready)
		}
		c.eventually(20*time.Second, "echo-probe Ready", func() (bool, string) {
			out := c.jsonpath("pod/echo-probe", "{.status.conditions[?(@.type=='Ready')].status}")
			return out == "True", out
		})
		c.mustKubectl("delete", "pod", "echo-probe", "--wait=true")
	})

	t.Run("LivenessRestartsReadinessDoesNot", func(t *testing.T) {
		c.t = t
		c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
    - name: app
      image: busybox
      command: ["sh", "-c", "touch /tmp/live /tmp/ready; exec sleep 3600"]
      livenessProbe:
        exec: {command: ["cat", "/tmp/live"]}
        periodSeconds: 1
        failureThreshold: 1
      readinessProbe:
        exec: {command: ["cat", "/tmp/ready"]}
        periodSeconds: 1
        failureThreshold: 1
`)
		c.eventually(30*time.Second, "probed Ready", func() (bool, string) {
			out := c.jsonpath("pod/probed", "{.status.conditions[?(@.type=='Ready')].status}")
			return out == "True", out
		})
		// A failing readiness probe: not ready, not restarted.
		c.mustKubectl("exec", "probed", "--", "rm", "/tmp/ready")
		c.eventually(10*time.Second, "probed not Ready", func() (bool, string) {
			out := c.jsonpath("pod/probed", "{.status.conditions[?(@.type=='Ready')].status}")
			return out == "False", out
		})
		if rc := c.jsonpath("pod/probed", "{.status.containerStatuses[0].restartCount}"); rc != "0" {
			t.Fatalf("readiness failure restarted the container: restartCount %s", rc)
		}
		// A failing liveness probe: restarted once (the new instance has both files again).
		c.mustKubectl("exec", "probed", "--", "rm", "/tmp/live")
		c.eventually(40*time.Second, "probed restarted once and Ready again", func() (bool, string) {
			rc := c.jsonpath("pod/probed", "{.status.containerStatuses[0].restartCount}")
			ready := c.jsonpath("pod/probed", "{.status.conditions[?(@.type=='Ready')].status}")
			return rc == "1" && ready == "True", "restartCount=" + rc + " ready=" + ready
		})
		ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=probed")
		for _, want := range []string{"Unhealthy", "Liveness probe failed", "Readiness probe failed", "Killing"} {
			if !strings.Contains(ev, want) {
				t.Errorf("events lack %q:\n%s", want, ev)
			}
		}
		c.mustKubectl("delete", "pod", "probed", "--grace-period=1")
	})

	t.Run("PreStopHookRunsBeforeStop", func(t *testing.T) {
		c.t = t
		dir := t.TempDir()
		c.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hooked
spec:
  terminationGracePeriodSeconds: 10
  volumes:
    - name: host
      hostPath: {path: %s}
  containers:
    - name: app
      image: busybox
      command: ["sleep", "3600"]
      volumeMounts: [{name: host, mountPath: /host}]
      lifecycle:
        preStop:
          exec: {command: ["sh", "-c", "echo bye > /host/prestop"]}
`, dir))
		c.waitPod("hooked", "1/1 Running", 60*time.Second)
		c.mustKubectl("delete", "pod", "hooked", "--wait=true")
		b, err := os.ReadFile(filepath.Join(dir, "prestop"))
		if err != nil || strings.TrimSpace(string(b)) != "bye" {
			t.Fatalf("preStop hook did not run before the container stopped: %v %q", err, b)
		}
	})

	t.Run("SeedCounterPod", func(t *testing.T) {
		c.t = t
		c.apply(seedCounterPod)
		c.waitPod("counter", "2/2 Running", 60*time.Second)
		ip := c.jsonpath("pod/counter", "{.status.podIP}")
		var counts []int
		re := regexp.MustCompile(`count: (\d+)`)
		for i := 0; i < 3; i++ {
			body, err := httpGet("http://" + ip + ":3000/")
			m := re.FindStringSubmatch(body)
			if err != nil || m == nil {
				t.Fatalf("counter answer %q: %v", body, err)
			}
			n, _ := strconv.Atoi(m[1])
			counts = append(counts, n)
		}
		if !(counts[1] == counts[0]+1 && counts[2] == counts[1]+1) {
			t.Fatalf("count does not grow by one per request: %v", counts)
		}
		c.mustKubectl("delete", "pod", "counter")
	})

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		c.t = t
		c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
    - name: app
      image: busybox
      command: ["sh", "-c", "echo run; exit 3"]
`)
		c.waitPod("crash", "CrashLoopBackOff", 30*time.Second)
		if code := c.jsonpath("pod/crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}"); code != "3" {
			t.Fatalf("lastState exit code %q, want 3", code)
		}
		// Restarts 1 and 2 come 10 s apart at least (back-off 10 s, then 20 s).
		c.eventually(40*time.Second, "restart 2", func() (bool, string) {
			rc := c.jsonpath("pod/crash", "{.status.containerStatuses[0].restartCount}")
			return rc == "2", rc
		})
		first := c.jsonpath("pod/crash", "{.status.containerStatuses[0].lastState.terminated.finishedAt}")
		started := c.jsonpath("pod/crash", "{.status.containerStatuses[0].lastState.terminated.startedAt}")
		_ = first
		if started == "" {
			t.Fatalf("no lastState.terminated.startedAt")
		}
		if out := c.mustKubectl("logs", "crash", "--previous"); !strings.Contains(out, "run") {
			t.Fatalf("logs --previous: %q", out)
		}
		ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=crash")
		if !strings.Contains(ev, "Back-off restarting failed container app") {
			t.Fatalf("no BackOff event:\n%s", ev)
		}
		c.mustKubectl("delete", "pod", "crash", "--grace-period=1")
	})

	t.Run("OOMKilled", func(t *testing.T) {
		c.t = t
		c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  restartPolicy: Never
  containers:
    - name: app
      image: busybox
      command: ["sh", "-c", "x=a; while true; do x=$x$x; done"]
      resources:
        limits:
          memory: 20Mi
`)
		c.waitPod("oom", "OOMKilled", 60*time.Second)
		if r := c.jsonpath("pod/oom", "{.status.containerStatuses[0].state.terminated.reason}"); r != "OOMKilled" {
			t.Fatalf("terminated reason %q, want OOMKilled", r)
		}
		if p := c.jsonpath("pod/oom", "{.status.phase}"); p != "Failed" {
			t.Fatalf("phase %q, want Failed", p)
		}
		c.mustKubectl("delete", "pod", "oom")
	})
}

// assertPodGone checks that nothing of a deleted pod is left: containers, netns, IP.
func assertPodGone(t *testing.T, c *cluster, uid, ip string) {
	t.Helper()
	cniDir := filepath.Join(c.dataDir, "nodes", "node-1", "cni")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leaks []string
		if _, err := os.Stat(filepath.Join(cniDir, "pods", uid)); err == nil {
			leaks = append(leaks, "pod network dir")
		}
		if hasFile(filepath.Join(cniDir, "ipam"), ip) {
			leaks = append(leaks, "IP reservation "+ip)
		}
		if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), uid) {
			leaks = append(leaks, "mount naming the pod uid")
		}
		sock := filepath.Join(c.dataDir, "containerd", "containerd.sock")
		if out, _ := exec.Command("ctr", "-a", sock, "-n", "webkube", "containers", "ls", "-q",
			`labels."webkube.io/pod-uid"==`+uid).Output(); strings.TrimSpace(string(out)) != "" {
			leaks = append(leaks, "containers "+strings.Fields(string(out))[0])
		}
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind after delete: %v", leaks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hasFile(dir, name string) bool {
	found := false
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == name {
			found = true
		}
		return nil
	})
	return found
}
