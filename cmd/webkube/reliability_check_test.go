package main

// What the reliability suite checks after a fault: the desired state was reached and the
// node holds exactly what its pods need — no container, shim, netns, IP or veth more.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	containerdclient "github.com/containerd/containerd"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/podstatus"
	"webkube/runtime/containers"
)

const (
	relNS     = "default"
	relBridge = "wkz0" // node-1's bridge of the suite's cluster (--bridge-prefix wkz)
)

// deployConverged says what is missing before Deployment name has exactly replicas pods
// of its current template, all Running and Ready and none terminating ("" when none).
func (s *relSuite) deployConverged(name string, replicas int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.cs.AppsV1().Deployments(relNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("deployment %s: %v", name, err)
	}
	st := d.Status
	if d.Spec.Replicas == nil || int(*d.Spec.Replicas) != replicas || st.ObservedGeneration != d.Generation ||
		int(st.Replicas) != replicas || int(st.UpdatedReplicas) != replicas || int(st.ReadyReplicas) != replicas {
		return fmt.Sprintf("deployment %s: generation %d observed %d, replicas %d updated %d ready %d, want %d",
			name, d.Generation, st.ObservedGeneration, st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, replicas)
	}
	pods, err := s.cs.CoreV1().Pods(relNS).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return fmt.Sprintf("pods of %s: %v", name, err)
	}
	var bad []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podstatus.Ready(&p) {
			bad = append(bad, fmt.Sprintf("%s %s ready=%v deleting=%v", p.Name, p.Status.Phase, podstatus.Ready(&p), p.DeletionTimestamp != nil))
		}
	}
	if len(pods.Items) != replicas || len(bad) > 0 {
		return fmt.Sprintf("%d pods of %s, want %d, not serving: %v", len(pods.Items), name, replicas, bad)
	}
	return ""
}

// convergedClean is deployConverged and then leaks: the check after every fault.
func (s *relSuite) convergedClean(name string, replicas int) func() string {
	return func() string {
		if d := s.deployConverged(name, replicas); d != "" {
			return d
		}
		return s.leaks()
	}
}

// leaks compares what node-1 holds with the pods the API has: every container, running
// task, shim, netns, IP reservation and bridge port must belong to a pod, and every pod
// must have exactly one running task per container, one netns, one IP and one veth.
// Orphans a lost trial already counted (s.known) are not blamed on later trials.
func (s *relSuite) leaks() string {
	var fresh []string
	for _, p := range s.nodeProblems() {
		if !s.known[p] {
			fresh = append(fresh, p)
		}
	}
	return strings.Join(fresh, "; ")
}

// absorb notes the orphans there are now as counted, after a trial that lost.
func (s *relSuite) absorb() {
	for _, p := range s.nodeProblems() {
		if strings.HasPrefix(p, "orphan ") {
			s.known[p] = true
		}
	}
}

func (s *relSuite) nodeProblems() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pods, err := s.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{fmt.Sprintf("list pods: %v", err)}
	}
	live := map[string]*corev1.Pod{}
	for i := range pods.Items {
		live[string(pods.Items[i].UID)] = &pods.Items[i]
	}
	tasks, problems := s.containerLeaks(ctx, live)
	problems = append(problems, shimLeaks(s.c.dataDir, tasks)...)
	problems = append(problems, s.networkLeaks(live)...)
	return problems
}

// containerLeaks lists node-1's containers in containerd and returns the state of each
// one's task: "running", "stopped" (exited, not deleted) or "" (no task).
func (s *relSuite) containerLeaks(ctx context.Context, live map[string]*corev1.Pod) (map[string]string, []string) {
	sock := filepath.Join(s.c.dataDir, "containerd", "containerd.sock")
	client, err := containerdclient.New(sock, containerdclient.WithDefaultNamespace("webkube"),
		containerdclient.WithTimeout(5*time.Second))
	if err != nil {
		return nil, []string{fmt.Sprintf("containerd: %v", err)}
	}
	defer client.Close()
	list, err := client.Containers(ctx)
	if err != nil {
		return nil, []string{fmt.Sprintf("containerd containers: %v", err)}
	}
	tasks := map[string]string{}
	perContainer := map[string]int{} // pod uid/container name → running tasks
	var problems []string
	for _, c := range list {
		labels, err := c.Labels(ctx)
		if err != nil {
			problems = append(problems, fmt.Sprintf("container %s labels: %v", c.ID(), err))
			continue
		}
		uid := labels[containers.LabelPodUID]
		if live[uid] == nil {
			problems = append(problems, fmt.Sprintf("orphan container %s (pod %s/%s %s)", short(c.ID()),
				labels[containers.LabelPodNamespace], labels[containers.LabelPodName], uid))
		}
		tasks[c.ID()] = ""
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue // no task: a container kept for its restart count or logs
		}
		tasks[c.ID()] = "stopped"
		if st, err := task.Status(ctx); err == nil && st.Status == containerdclient.Running {
			tasks[c.ID()] = "running"
			perContainer[uid+"/"+labels[containers.LabelContainer]]++
		}
	}
	for uid, p := range live {
		for _, ctr := range p.Spec.Containers {
			if n := perContainer[uid+"/"+ctr.Name]; n != 1 && p.DeletionTimestamp == nil {
				problems = append(problems, fmt.Sprintf("pod %s container %s has %d running tasks", p.Name, ctr.Name, n))
			}
		}
	}
	return tasks, problems
}

// shimLeaks finds the shim processes serving this data dir's containerd (their -address
// points into it) whose container has no running task. A shim of an exited task that was
// never deleted counts too: it serves a process that is gone (containerd's CRI deletes
// the task when the process exits) and costs some 13 MB.
func shimLeaks(dataDir string, tasks map[string]string) []string {
	if tasks == nil {
		return nil // containerd did not answer; already reported
	}
	var problems []string
	for pid, id := range shims(dataDir) {
		switch tasks[id] {
		case "running":
		case "stopped":
			problems = append(problems, fmt.Sprintf("orphan shim pid %d of exited container %s (task not deleted)", pid, short(id)))
		default:
			problems = append(problems, fmt.Sprintf("orphan shim pid %d for %s (no task)", pid, short(id)))
		}
	}
	return problems
}

// shims maps the pid of each shim of this data dir's containerd to its -id.
func shims(dataDir string) map[int]string {
	out := map[int]string{}
	procs, _ := listProcs()
	for _, p := range procs {
		if !strings.Contains(filepath.Base(p.argv0), "containerd-shim") {
			continue
		}
		var id, addr string
		args := strings.Fields(p.cmdline)
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "-id":
				id = args[i+1]
			case "-address":
				addr = args[i+1]
			}
		}
		if strings.HasPrefix(addr, dataDir+"/") {
			out[p.pid] = id
		}
	}
	return out
}

// networkLeaks checks node-1's netns mounts, host-local IP reservations and bridge ports.
func (s *relSuite) networkLeaks(live map[string]*corev1.Pod) []string {
	var problems []string
	netns := map[string]int{}
	podsDir := filepath.Join(s.c.dataDir, "nodes", "node-1", "cni", "pods") + "/"
	for _, m := range podNetnsMounts(s.c.dataDir) {
		if !strings.HasPrefix(m, podsDir) {
			continue // a container's rootfs
		}
		// <data>/nodes/node-1/cni/pods/<uid>/cni-…
		uid := filepath.Base(filepath.Dir(m))
		netns[uid]++
		if live[uid] == nil {
			problems = append(problems, "orphan netns "+m)
		}
	}
	for uid, p := range live {
		if n := netns[uid]; n != 1 {
			problems = append(problems, fmt.Sprintf("pod %s has %d netns", p.Name, n))
		}
	}
	reserved := map[string]bool{}
	ipam := filepath.Join(s.c.dataDir, "nodes", "node-1", "cni", "ipam")
	filepath.Walk(ipam, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Count(info.Name(), ".") == 3 {
			reserved[info.Name()] = true
		}
		return nil
	})
	held := map[string]bool{}
	for _, p := range live {
		if ip := p.Status.PodIP; ip != "" {
			held[ip] = true
			if !reserved[ip] {
				problems = append(problems, fmt.Sprintf("pod %s's IP %s is not reserved", p.Name, ip))
			}
		}
	}
	for ip := range reserved {
		if !held[ip] {
			problems = append(problems, "orphan IP reservation "+ip)
		}
	}
	// A veth's name says nothing of its pod: count them.
	ports, _ := os.ReadDir(filepath.Join("/sys/class/net", relBridge, "brif"))
	for i := len(live); i < len(ports); i++ {
		problems = append(problems, fmt.Sprintf("orphan veth #%d on %s", i-len(live)+1, relBridge))
	}
	if len(ports) < len(live) {
		problems = append(problems, fmt.Sprintf("%d veths on %s for %d pods", len(ports), relBridge, len(live)))
	}
	return problems
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
