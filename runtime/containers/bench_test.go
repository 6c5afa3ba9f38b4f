package containers

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"webkube/runtime/images"
)

// TestBuiltinBusyboxImage runs a container from the images package's built-in busybox, the
// image the seed's examples use.
func TestBuiltinBusyboxImage(t *testing.T) {
	f := newFixture(t)
	svc, err := images.NewService(images.Config{Client: env.Client, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	img, err := svc.Ensure(f.ctx, "busybox", corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := f.run(t, newPod("bb", corev1.Container{Name: "c", Command: []string{"sh", "-c", "echo hello from $(hostname)"}}), 0, 0, img)
	st := f.wait(t, id, 10*time.Second)
	if got := f.logOf(t, id); st.ExitCode != 0 || got != "hello from bb\n" {
		t.Fatalf("exit %d, log %q", st.ExitCode, got)
	}
}

// startPod is what the kubelet does to bring up a one-container pod: netns + CNI, create,
// start.
func (f *fixture) startPod(b *testing.B, name string) {
	pod := newPod(name, corev1.Container{Name: "c", Command: []string{"sleep", "1000"}})
	nw, err := f.net.SetUp(f.ctx, string(pod.UID), pod.Namespace, pod.Name)
	if err != nil {
		b.Error(err)
		return
	}
	id, err := f.rt.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[0], Image: f.busybox, Network: nw})
	if err != nil {
		b.Error(err)
		return
	}
	if err := f.rt.StartContainer(f.ctx, id); err != nil {
		b.Error(err)
	}
}

func (f *fixture) removeAll(b *testing.B) {
	sts, _ := f.rt.List(f.ctx, "")
	var wg sync.WaitGroup
	for _, s := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.rt.Remove(f.ctx, s.ID); err != nil {
				b.Error(err)
			}
			if err := f.net.TearDown(f.ctx, s.PodUID); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkPodStart: netns + CNI ADD + container create + start of one pod.
func BenchmarkPodStart(b *testing.B) {
	f := newFixture(b)
	f.removeAll(b)
	for i := 0; i < b.N; i++ {
		f.startPod(b, "bench")
		b.StopTimer()
		f.removeAll(b)
		b.StartTimer()
	}
}

// BenchmarkPodStart20Parallel: 20 pods brought up at once; ns/op is the wall time for all 20.
func BenchmarkPodStart20Parallel(b *testing.B) {
	f := newFixture(b)
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < 20; j++ {
			wg.Add(1)
			go func() { defer wg.Done(); f.startPod(b, "bench") }()
		}
		wg.Wait()
		b.StopTimer()
		if i == 0 {
			b.ReportMetric(shimRSSPerPod(b, f), "shim-KB/pod")
		}
		f.removeAll(b)
		b.StartTimer()
	}
}

// shimRSSPerPod is the resident memory of the containerd shims (one per pod) per pod.
func shimRSSPerPod(b *testing.B, f *fixture) float64 {
	sts, err := f.rt.List(f.ctx, "")
	if err != nil || len(sts) == 0 {
		b.Fatal("no pods", err)
	}
	shims := map[string]bool{}
	for _, s := range sts {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Pid))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		shims[fields[1]] = true
	}
	var kb float64
	for pid := range shims {
		status, _ := os.ReadFile("/proc/" + pid + "/status")
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.Fields(v)[0])
				kb += float64(n)
			}
		}
	}
	return kb / float64(len(sts))
}
