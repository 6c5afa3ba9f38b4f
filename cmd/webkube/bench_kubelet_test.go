package main

// Benchmarks of issue 4: the kubelet on real containerd, measured through the API as a
// user sees it, with `ctr run` against the same containerd in the same run as baseline.
//
//	go test ./cmd/webkube -run '^$' -bench 'PodStartup|ReplicaSet100' -benchtime 1x

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The benchmarks' own pod network and bridge, apart from the acceptance tests' ones.
const (
	benchPodNet = "10.253.0.0/16"
	benchBridge = "wkbn"
	// ctrNS is where the `ctr run` baseline runs: not webkube's namespace, so the kubelet
	// never sees (or reaps) the baseline's containers.
	ctrNS    = "webkube-bench"
	ctrImage = "docker.io/library/busybox:latest"
)

// benchPod is busybox waiting forever but leaving at once on SIGTERM, so a delete does
// not sit out the grace period (busybox sh as PID 1 ignores SIGTERM without a trap).
func benchPod() corev1.PodSpec {
	grace := int64(5)
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:    "app",
			Image:   "busybox",
			Command: []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
		}},
	}
}

func clientFor(tb testing.TB, c *cluster) kubernetes.Interface {
	tb.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// podStartup creates one pod and returns the time from the create call to the watch
// event that shows it Running; then it deletes the pod and waits until it is gone.
func podStartup(b *testing.B, ctx context.Context, cs kubernetes.Interface, name string) time.Duration {
	b.Helper()
	pods := cs.CoreV1().Pods("default")
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "startup"}},
		Spec: benchPod()}
	start := time.Now()
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitEvent(b, w, 60*time.Second, name+" Running", func(ev watch.Event) bool {
		p, ok := ev.Object.(*corev1.Pod)
		return ok && p.Status.Phase == corev1.PodRunning
	})
	took := time.Since(start)
	b.StopTimer()
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	waitEvent(b, w, 60*time.Second, name+" deleted", func(ev watch.Event) bool { return ev.Type == watch.Deleted })
	b.StartTimer()
	return took
}

func waitEvent(b *testing.B, w watch.Interface, timeout time.Duration, what string, done func(watch.Event) bool) {
	b.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("watch closed while waiting for %s", what)
			}
			if ev.Type == watch.Error {
				b.Fatalf("watch error while waiting for %s: %v", what, ev.Object)
			}
			if done(ev) {
				return
			}
		case <-timer.C:
			b.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// ctrBaseline prepares `ctr run` of the busybox image the kubelet uses, in its own
// namespace of webkube's containerd.
type ctrBaseline struct {
	sock string
}

func newCtrBaseline(b *testing.B, c *cluster) *ctrBaseline {
	b.Helper()
	if _, err := exec.LookPath("ctr"); err != nil {
		b.Fatal("ctr not found: install the Debian package containerd")
	}
	cb := &ctrBaseline{sock: filepath.Join(c.dataDir, "containerd", "containerd.sock")}
	// The image exists in webkube's namespace once a pod has used it; copy it over.
	tar := filepath.Join(b.TempDir(), "busybox.tar")
	cb.must(b, "-n", "webkube", "images", "export", tar, ctrImage)
	cb.must(b, "-n", ctrNS, "images", "import", tar)
	b.Cleanup(func() {
		cb.ctr("-n", ctrNS, "images", "rm", ctrImage)
		cb.ctr("namespaces", "rm", ctrNS)
		os.Remove("/run/containerd/runc/" + ctrNS) // ctr's default runc root; only if empty
	})
	return cb
}

func (cb *ctrBaseline) ctr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"-a", cb.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (cb *ctrBaseline) must(b *testing.B, args ...string) {
	b.Helper()
	if out, err := cb.ctr(args...); err != nil {
		b.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// run times `ctr run -d` (create + start, what the kubelet does for a pod's container,
// without the network and the API) and removes the container untimed.
func (cb *ctrBaseline) run(b *testing.B, id string) time.Duration {
	b.Helper()
	start := time.Now()
	cb.must(b, "-n", ctrNS, "run", "-d", "--null-io", ctrImage, id, "sh", "-c", "sleep 3600")
	took := time.Since(start)
	b.StopTimer()
	cb.must(b, "-n", ctrNS, "task", "kill", "-s", "SIGKILL", id)
	// task delete fails while the task is still stopping; retry briefly.
	for i := 0; ; i++ {
		out, err := cb.ctr("-n", ctrNS, "task", "delete", id)
		if err == nil {
			break
		}
		if i == 50 {
			b.Fatalf("ctr task delete %s: %v\n%s", id, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cb.must(b, "-n", ctrNS, "containers", "rm", id)
	b.StartTimer()
	return took
}

// startupSamples is how many pods one op of BenchmarkPodStartup starts: enough for a p99
// within one cluster start, since -benchtime Nx with N > 1 would start the cluster twice
// (the testing package probes with b.N = 1 first).
const startupSamples = 40

// BenchmarkPodStartup: one pod at a time, create → Running seen through a watch, with a
// `ctr run -d` of the same image on the same containerd alternating with it so drift on
// this shared machine hits both. Run it with -benchtime 1x.
func BenchmarkPodStartup(b *testing.B) {
	c := startCluster(b, benchPodNet, benchBridge)
	cs := clientFor(b, c)
	ctx := context.Background()
	// Warm-up, not measured: the built-in image is made on first use.
	podStartup(b, ctx, cs, "warmup")
	cb := newCtrBaseline(b, c)
	cb.run(b, "warmup")
	var kube, ctr []time.Duration
	b.ResetTimer()
	for i := range b.N * startupSamples {
		kube = append(kube, podStartup(b, ctx, cs, fmt.Sprintf("lat-%d", i)))
		ctr = append(ctr, cb.run(b, fmt.Sprintf("ctr-%d", i)))
	}
	b.StopTimer()
	slices.Sort(kube)
	slices.Sort(ctr)
	b.ReportMetric(ms(quantile(kube, 0.50)), "p50-ms")
	b.ReportMetric(ms(quantile(kube, 0.99)), "p99-ms")
	b.ReportMetric(ms(quantile(ctr, 0.50)), "ctr-p50-ms")
	b.ReportMetric(ms(quantile(ctr, 0.99)), "ctr-p99-ms")
	b.ReportMetric(float64(quantile(kube, 0.5))/float64(quantile(ctr, 0.5)), "x-ctr-p50")
	b.ReportMetric(0, "ns/op") // an op is many pods; the quantiles are the figures
}

// BenchmarkReplicaSet100: a 100-replica ReplicaSet from 0 to readyReplicas 100 (as
// `kubectl get rs` shows it), then the memory of the pods: RSS and PSS of the shims and
// container processes, per pod.
func BenchmarkReplicaSet100(b *testing.B) {
	const n = 100
	c := startCluster(b, benchPodNet, benchBridge)
	cs := clientFor(b, c)
	ctx := context.Background()
	podStartup(b, ctx, cs, "warmup")
	rss0, pss0 := podProcessMemory(b, c.dataDir)
	labels := map[string]string{"app": "bench100"}
	replicas := int32(n)
	var took []time.Duration
	var rssPerPod, pssPerPod []float64
	phases := map[string][]float64{}
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("bench100-%d", i)
		rsc := cs.AppsV1().ReplicaSets("default")
		w, err := rsc.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			b.Fatal(err)
		}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       benchPod(),
				},
			},
		}
		pw, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=bench100"})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seen := watchMilestones(pw, start)
		if _, err := rsc.Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitEvent(b, w, 120*time.Second, name+" 100 ready", func(ev watch.Event) bool {
			r, ok := ev.Object.(*appsv1.ReplicaSet)
			return ok && r.Status.ReadyReplicas == n
		})
		took = append(took, time.Since(start))
		b.StopTimer()
		w.Stop()
		pw.Stop()
		m := <-seen
		b.Logf("100 pods: all created %.2fs, all scheduled %.2fs, all Running %.2fs, all Ready %.2fs, rs readyReplicas=100 %.2fs",
			m.all(m.created, n), m.all(m.scheduled, n), m.all(m.running, n), m.all(m.ready, n), took[len(took)-1].Seconds())
		for k, v := range map[string]map[string]time.Duration{"created": m.created, "scheduled": m.scheduled, "running": m.running} {
			phases[k] = append(phases[k], m.all(v, n))
		}
		rss, pss := podProcessMemory(b, c.dataDir)
		rssPerPod = append(rssPerPod, (rss-rss0)/n)
		pssPerPod = append(pssPerPod, (pss-pss0)/n)
		fg := metav1.DeletePropagationBackground
		if err := rsc.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
			b.Fatal(err)
		}
		waitNoPods(b, ctx, cs, "app=bench100", 120*time.Second)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	slices.Sort(rssPerPod)
	slices.Sort(pssPerPod)
	b.ReportMetric(quantile(took, 0.5).Seconds(), "s-to-all-ready")
	for k, v := range phases {
		slices.Sort(v)
		b.ReportMetric(v[len(v)/2], "s-to-all-"+k)
	}
	b.ReportMetric(rssPerPod[len(rssPerPod)/2], "rss-MB/pod")
	b.ReportMetric(pssPerPod[len(pssPerPod)/2], "pss-MB/pod")
	b.ReportMetric(0, "ns/op") // includes the untimed delete; s-to-all-ready is the figure
}

// milestones are when each pod (by name) was first seen created, bound, Running, Ready.
type milestones struct {
	created, scheduled, running, ready map[string]time.Duration
}

// all is when the n-th pod reached a milestone, in seconds; -1 if fewer did.
func (m milestones) all(at map[string]time.Duration, n int) float64 {
	if len(at) < n {
		return -1
	}
	var ds []time.Duration
	for _, d := range at {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[n-1].Seconds()
}

// watchMilestones reads a pod watch until it is stopped, then sends what it saw.
func watchMilestones(w watch.Interface, start time.Time) <-chan milestones {
	out := make(chan milestones, 1)
	m := milestones{map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}}
	mark := func(at map[string]time.Duration, name string, d time.Duration) {
		if _, ok := at[name]; !ok {
			at[name] = d
		}
	}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			d := time.Since(start)
			mark(m.created, p.Name, d)
			if p.Spec.NodeName != "" {
				mark(m.scheduled, p.Name, d)
			}
			if p.Status.Phase == corev1.PodRunning {
				mark(m.running, p.Name, d)
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					mark(m.ready, p.Name, d)
				}
			}
		}
		out <- m
	}()
	return out
}

func waitNoPods(b *testing.B, ctx context.Context, cs kubernetes.Interface, selector string, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(l.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			n := -1
			if l != nil {
				n = len(l.Items)
			}
			b.Fatalf("%d pods %s still there after %s (err %v)", n, selector, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// podProcessMemory sums, in MB, the RSS and PSS of the containerd shims started by the
// containerd under dataDir and of all their descendants (the containers' processes).
// RSS counts shared pages (the shim binary, busybox) once per process; PSS splits them.
func podProcessMemory(tb testing.TB, dataDir string) (rssMB, pssMB float64) {
	tb.Helper()
	procs, err := listProcs()
	if err != nil {
		tb.Fatal(err)
	}
	children := map[int][]int{}
	var shims []int
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
		if strings.HasPrefix(filepath.Base(p.argv0), "containerd-shim") && strings.Contains(p.cmdline, dataDir) {
			shims = append(shims, p.pid)
		}
	}
	var rssKB, pssKB int64
	seen := map[int]bool{}
	var walk func(pid int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		rssKB += statusKB(pid, "/proc/%d/status", "VmRSS:")
		pssKB += statusKB(pid, "/proc/%d/smaps_rollup", "Pss:")
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, s := range shims {
		walk(s)
	}
	return float64(rssKB) / 1024, float64(pssKB) / 1024
}

type proc struct {
	pid, ppid      int
	argv0, cmdline string
}

func listProcs() ([]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		// The command name in parentheses may hold spaces; ppid is the 2nd field after it.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmd), "\x00")
		out = append(out, proc{pid: pid, ppid: ppid, argv0: args[0], cmdline: strings.Join(args, " ")})
	}
	return out, nil
}

// statusKB reads a "Key:   123 kB" line of a /proc file; 0 if the process is gone.
func statusKB(pid int, pathFmt, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf(pathFmt, pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
