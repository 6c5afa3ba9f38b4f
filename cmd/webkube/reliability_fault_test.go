package main

// The reliability suite's kills below webkube (a container process, a shim, containerd)
// and its Service continuity under load.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	containerdclient "github.com/containerd/containerd"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
)

const relFault = "rel-fault"

// faultPod starts the fault Deployment (2 replicas) and returns its first pod.
func (s *relSuite) faultPod(t *testing.T) *corev1.Pod {
	t.Helper()
	s.c.apply(relDeployment(relFault, 2))
	if ok, last := settled(120*time.Second, s.convergedClean(relFault, 2)); !ok {
		t.Fatalf("%s never ran its 2 pods: %s", relFault, last)
	}
	pods, err := s.cs.CoreV1().Pods(relNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + relFault})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %v", relFault, err)
	}
	return &pods.Items[0]
}

// task finds the running task of the pod's container "app": its container id and pid.
func (s *relSuite) task(uid string) (string, uint32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := containerdclient.New(filepath.Join(s.c.dataDir, "containerd", "containerd.sock"),
		containerdclient.WithDefaultNamespace("webkube"), containerdclient.WithTimeout(5*time.Second))
	if err != nil {
		return "", 0, err
	}
	defer client.Close()
	list, err := client.Containers(ctx, fmt.Sprintf(`labels."%s"==%s`, containers.LabelPodUID, uid))
	if err != nil {
		return "", 0, err
	}
	for _, c := range list {
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err == nil && st.Status == containerdclient.Running {
			return c.ID(), task.Pid(), nil
		}
	}
	return "", 0, fmt.Errorf("pod %s has no running task", uid)
}

func (s *relSuite) restartCount(name string) int32 {
	p, err := s.cs.CoreV1().Pods(relNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || len(p.Status.ContainerStatuses) == 0 {
		return -1
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

// containerKills: kill -9 a container's process; the kubelet restarts it in the same pod
// (restartCount one up) and nothing leaks.
func (s *relSuite) containerKills(t *testing.T, o *outcome) {
	defer s.c.kubectl("delete", "deployment", relFault, "--wait=true", "--timeout=60s")
	for i := 0; i < s.plan.faults; i++ {
		pod := s.faultPod(t)
		before := s.restartCount(pod.Name)
		_, pid, err := s.task(string(pod.UID))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
			t.Fatalf("kill container process %d: %v", pid, err)
		}
		ok, last := settled(converge, func() string {
			if rc := s.restartCount(pod.Name); rc != before+1 {
				return fmt.Sprintf("%s restartCount %d, want %d", pod.Name, rc, before+1)
			}
			return s.convergedClean(relFault, 2)()
		})
		if ok {
			o.ok()
		} else {
			s.lose(o, "killed pid %d of %s: %s", pid, pod.Name, last)
		}
	}
}

// shimKills: kill -9 the shim of a running container; the pod serves again (its
// container restarted or reattached) and no shim, task or network is left over.
func (s *relSuite) shimKills(t *testing.T, o *outcome) {
	defer s.c.kubectl("delete", "deployment", relFault, "--wait=true", "--timeout=60s")
	for i := 0; i < s.plan.faults; i++ {
		pod := s.faultPod(t)
		id, _, err := s.task(string(pod.UID))
		if err != nil {
			t.Fatal(err)
		}
		shim := 0
		for pid, sid := range shims(s.c.dataDir) {
			if sid == id {
				shim = pid
			}
		}
		if shim == 0 {
			t.Fatalf("no shim process for container %s of %s; shims: %v", id, pod.Name, shims(s.c.dataDir))
		}
		if err := syscall.Kill(shim, syscall.SIGKILL); err != nil {
			t.Fatalf("kill shim %d: %v", shim, err)
		}
		if ok, last := settled(converge, s.convergedClean(relFault, 2)); ok {
			o.ok()
		} else {
			s.lose(o, "killed shim %d of %s: %s", shim, pod.Name, last)
			s.recover(t)
		}
	}
}

// containerdKills: kill -9 webkube's containerd child. webkube must start a new one, and
// a pod created afterwards must run, next to the old ones still running.
func (s *relSuite) containerdKills(t *testing.T, o *outcome) {
	defer s.c.kubectl("delete", "deployment", relFault, "--wait=true", "--timeout=60s")
	for i := 0; i < s.plan.faults; i++ {
		s.faultPod(t)
		old := s.containerd()
		if old == 0 {
			t.Fatalf("webkube has no containerd child")
		}
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatalf("kill containerd %d: %v", old, err)
		}
		ok, last := settled(converge, func() string {
			if pid := s.containerd(); pid == 0 || pid == old {
				return "no new containerd"
			}
			if out := s.c.jsonpath("node/node-1", `{.status.conditions[?(@.type=="Ready")].status}`); out != "True" {
				return "node-1 Ready=" + out
			}
			return ""
		})
		if ok {
			s.c.mustKubectl("scale", "deployment", relFault, "--replicas=3")
			ok, last = settled(converge, s.convergedClean(relFault, 3))
		}
		if ok {
			o.ok()
			s.c.mustKubectl("scale", "deployment", relFault, "--replicas=2")
			continue
		}
		s.lose(o, "killed containerd %d: %s", old, last)
		s.recover(t)
	}
}

// containerd is the pid of webkube's containerd child (0 if none).
func (s *relSuite) containerd() int {
	procs, _ := listProcs()
	for _, p := range procs {
		if s.c.cmd != nil && p.ppid == s.c.cmd.Process.Pid && filepath.Base(p.argv0) == "containerd" {
			return p.pid
		}
	}
	return 0
}

// recover gets the cluster back after a lost trial, so the next one starts clean: a
// restarted webkube reconciles what is left.
func (s *relSuite) recover(t *testing.T) {
	s.restart()
	s.c.mustKubectl("scale", "deployment", relFault, "--replicas=2")
	if ok, last := settled(120*time.Second, s.convergedClean(relFault, 2)); !ok {
		t.Fatalf("even a restarted webkube did not get %s back: %s", relFault, last)
	}
}

// serviceUnderLoad: requests go to the echo Service's ClusterIP and NodePort back to back
// while its Deployment rolls out several times and webkube is killed and restarted once.
func (s *relSuite) serviceUnderLoad(t *testing.T, o *outcome) {
	c := s.c
	c.apply(servicesEcho)
	defer c.kubectl("delete", "deployment/echo", "svc/echo", "svc/echo-headless", "--wait=true", "--timeout=60s")
	c.waitReady("app=echo", 3, 90*time.Second)
	c.waitEndpoints("echo", 3, 30*time.Second)
	clusterIP := c.jsonpath("svc/echo", "{.spec.clusterIP}")
	nodePort := c.jsonpath("svc/echo", "{.spec.ports[0].nodePort}")
	urls := []string{"http://" + clusterIP + "/", "http://127.0.0.1:" + nodePort + "/"}
	for _, u := range urls {
		if _, fails := getMany(u, 30); fails != nil {
			t.Fatalf("%s fails before any fault: %d of 30, first %v", u, len(fails), fails[0])
		}
	}
	restartAfter := 0 // after which rollout webkube is killed
	if s.plan.svcRestart {
		restartAfter = 1 + s.rng.Intn(s.plan.svcRollouts)
	}
	o.scenario = fmt.Sprintf("Service requests across %d rollouts", s.plan.svcRollouts)
	if restartAfter > 0 {
		o.scenario += " + restart"
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var loads []*load
	for _, u := range urls {
		loads = append(loads, startLoad(ctx, u))
	}
	var events []string
	for r := 1; r <= s.plan.svcRollouts; r++ {
		c.mustKubectl("set", "env", "deployment/echo", fmt.Sprintf("VERSION=%d", r+1))
		if out, err := c.kubectl("rollout", "status", "deployment/echo", "--timeout=120s"); err != nil {
			cancel()
			t.Fatalf("rollout %d: %v\n%s", r, err, out)
		}
		events = append(events, fmt.Sprintf("rollout %d done +%s", r, time.Since(start).Round(time.Second)))
		if r == restartAfter {
			at := time.Since(start)
			took := s.restart()
			events = append(events, fmt.Sprintf("kill -9 at +%s, ready after %s", at.Round(time.Second), took.Round(time.Second)))
		}
	}
	// Old pods serve while they terminate: keep the load on until they are gone.
	if ok, last := settled(60*time.Second, func() string { return s.deployConverged("echo", 3) }); !ok {
		t.Errorf("echo did not settle after the rollouts: %s", last)
	}
	cancel()
	for _, l := range loads {
		l.wait()
		o.tried += l.n
		o.lost += len(l.fails)
		if n := len(l.fails); n > 0 {
			first, last := l.fails[0], l.fails[n-1]
			o.details = append(o.details, fmt.Sprintf("%s: %d failed between +%s and +%s, first: %v", l.url, n,
				first.at.Sub(start).Round(time.Millisecond), last.at.Sub(start).Round(time.Millisecond), first.err))
		}
	}
	if o.lost > 0 {
		keepLog(t, c, "webkube-reliability-service.log")
	}
	o.survived = o.tried - o.lost
	t.Logf("%s; %d requests, %d failed", strings.Join(events, ", "), o.tried, o.lost)
	if o.tried < 100 {
		o.lost++
		o.details = append(o.details, fmt.Sprintf("only %d requests: the load did not run", o.tried))
	}
}

// keepLog copies webkube's whole log where it outlives the test, for the root cause.
func keepLog(t *testing.T, c *cluster, name string) {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return
	}
	keep := filepath.Join(os.TempDir(), name)
	if os.WriteFile(keep, b, 0o644) == nil {
		t.Logf("whole webkube log: %s", keep)
	}
}
