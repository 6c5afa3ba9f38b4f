package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const echoPod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`

// TestContainerdKilled: kill -9 of webkube's containerd. It is restarted; meanwhile the
// node is NotReady with the reason, and the events say so; then it is Ready again, a pod
// created while it was down runs, the running pod kept its container, and a container
// killed while containerd was down is restarted as its restartPolicy says.
func TestContainerdKilled(t *testing.T) {
	c := startCluster(t, "10.238.0.0/16", "wkk")
	c.apply(fmt.Sprintf(echoPod, "before") + "---\n" + fmt.Sprintf(echoPod, "victim"))
	c.waitPod("before", "1/1 Running", 60*time.Second)
	c.waitPod("victim", "1/1 Running", 60*time.Second)
	beforePid := containerPid(t, c, "before")
	victimPid := containerPid(t, c, "victim")

	conds := c.watchNodeReady()
	pidFile := filepath.Join(c.dataDir, "containerd", "containerd.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	cdPid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !isChildOf(cdPid, c.cmd.Process.Pid) {
		t.Fatalf("containerd pid file says %q: not a child of webkube %d", b, c.cmd.Process.Pid)
	}
	killed := time.Now()
	if err := syscall.Kill(cdPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// While it is down: a container dies, and a new pod is made.
	if err := syscall.Kill(victimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.apply(fmt.Sprintf(echoPod, "during"))

	c.eventually(20*time.Second, "node NotReady for the runtime, then Ready again", func() (bool, string) {
		seen := conds.lines()
		down := -1
		for i, l := range seen {
			if down < 0 && strings.HasPrefix(l, "False KubeletNotReady container runtime is down: containerd exited (signal: killed)") {
				down = i
			}
			if down >= 0 && i > down && strings.HasPrefix(l, "True ") {
				return true, strings.Join(seen, " | ")
			}
		}
		return false, strings.Join(seen, " | ")
	})
	t.Logf("node Ready again %v after containerd was killed", time.Since(killed).Round(time.Millisecond))
	b, _ = os.ReadFile(pidFile)
	if newPid, _ := strconv.Atoi(strings.TrimSpace(string(b))); newPid == cdPid || !isChildOf(newPid, c.cmd.Process.Pid) {
		t.Fatalf("containerd not restarted as webkube's child: pid file %q (old %d)", b, cdPid)
	}

	c.apply(fmt.Sprintf(echoPod, "after"))
	c.waitPod("during", "1/1 Running", 30*time.Second)
	t.Logf("pod created while containerd was down Running %v after the kill", time.Since(killed).Round(time.Millisecond))
	c.waitPod("after", "1/1 Running", 30*time.Second)
	c.waitPod("victim", "1/1 Running 1", 30*time.Second)
	c.waitPod("before", "1/1 Running 0", 5*time.Second)
	if pid := containerPid(t, c, "before"); pid != beforePid {
		t.Fatalf("pod before: container pid %d, was %d: it was restarted", pid, beforePid)
	}
	reasons := c.jsonpath("events", `{range .items[?(@.involvedObject.kind=="Node")]}{.reason}{" "}{end}`)
	for _, want := range []string{"ContainerRuntimeDown", "NodeNotReady", "ContainerRuntimeReady", "NodeReady"} {
		if !strings.Contains(" "+reasons+" ", " "+want+" ") {
			t.Errorf("no %s event on the node; node events: %s", want, reasons)
		}
	}
}

// containerPid is the host pid of a pod's container process, from containerd.
func containerPid(t *testing.T, c *cluster, pod string) int {
	t.Helper()
	uid := c.jsonpath("pod/"+pod, "{.metadata.uid}")
	sock := filepath.Join(c.dataDir, "containerd", "containerd.sock")
	ids, err := exec.Command("ctr", "-a", sock, "-n", "webkube", "containers", "ls", "-q", "labels.\"webkube.io/pod-uid\"=="+uid).Output()
	if err != nil {
		t.Fatalf("ctr containers ls: %v", err)
	}
	out, err := exec.Command("ctr", "-a", sock, "-n", "webkube", "tasks", "ls").Output()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "RUNNING" && strings.Contains(string(ids), f[0]) {
			pid, _ := strconv.Atoi(f[1])
			return pid
		}
	}
	t.Fatalf("no running container of pod %s (uid %s) in:\n%s", pod, uid, out)
	return 0
}

func isChildOf(pid, parent int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 1 && f[1] == strconv.Itoa(parent)
}

// nodeReadyWatch collects node-1's Ready condition ("status reason message") at every
// change, polled back to back: a NotReady spell lasts at least the kubelet's 1 s runtime
// check, several polls.
type nodeReadyWatch struct {
	mu  sync.Mutex
	got []string
}

func (w *nodeReadyWatch) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

func (c *cluster) watchNodeReady() *nodeReadyWatch {
	w := &nodeReadyWatch{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := c.kubectl("get", "node", "node-1",
				"-o", `jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status}{" "}{.reason}{" "}{.message}{end}`)
			if err != nil {
				continue
			}
			w.mu.Lock()
			if n := len(w.got); n == 0 || w.got[n-1] != out {
				w.got = append(w.got, out)
			}
			w.mu.Unlock()
		}
	}()
	c.t.Cleanup(func() { close(stop); <-done })
	return w
}
