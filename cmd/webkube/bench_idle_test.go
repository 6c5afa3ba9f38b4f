package main

// Issue 2's idle RSS: a running webkube, settled, read from /proc/<pid>/status VmRSS.
//
//	go test ./cmd/webkube -run '^$' -bench IdleRSS -benchtime 1x -count 3

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settle is how long a freshly ready webkube is left alone before RSS is read: long
// enough for start-up garbage to be collected and the first heartbeats to pass.
const (
	settle  = 8 * time.Second
	samples = 5
)

// BenchmarkIdleRSS/nodes=0 is the API server, store, controllers and dashboard alone;
// nodes=1 is the default start (one kubelet, its own containerd child, reported apart).
func BenchmarkIdleRSS(b *testing.B) {
	b.Run("nodes=0", func(b *testing.B) {
		for range b.N {
			pid := startBare(b, "--nodes", "0", "--simulated-nodes", "0")
			time.Sleep(settle)
			b.ReportMetric(medianRSS(b, pid), "webkube-MB")
		}
		b.ReportMetric(0, "ns/op") // the time of a start is not the figure
	})
	b.Run("nodes=1", func(b *testing.B) {
		for range b.N {
			c := startCluster(b, benchPodNet, benchBridge)
			time.Sleep(settle)
			pid := c.cmd.Process.Pid
			b.ReportMetric(medianRSS(b, pid), "webkube-MB")
			cd := childNamed(b, pid, "containerd")
			b.ReportMetric(medianRSS(b, cd), "containerd-MB")
			c.stop()
		}
		b.ReportMetric(0, "ns/op")
	})
}

// startBare runs webkube without waiting for a node (the harness waits for one), and
// stops it by its PID when the benchmark ends.
func startBare(b *testing.B, extra ...string) int {
	b.Helper()
	dataDir, err := os.MkdirTemp("/tmp", "wkb")
	if err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	logPath := filepath.Join(b.TempDir(), "webkube.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(webkubeBin, append([]string{"--data-dir", dataDir, "--addr", addr,
		"--api-addr", freeAddr(b), "--ingress-addr", freeAddr(b), "--ingress-tls-addr", freeAddr(b), "--bridge-prefix", benchBridge, "--pod-network", benchPodNet}, extra...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dataDir)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd.Process.Pid
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			b.Fatalf("webkube exited at start:\n%s", tail(string(out), 40))
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal("webkube not ready after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// medianRSS samples VmRSS once a second and returns the median in MB.
func medianRSS(b *testing.B, pid int) float64 {
	b.Helper()
	var mb []float64
	for i := range samples {
		if i > 0 {
			time.Sleep(time.Second)
		}
		kb := statusKB(pid, "/proc/%d/status", "VmRSS:")
		if kb == 0 {
			b.Fatalf("no VmRSS for pid %d: process gone?", pid)
		}
		mb = append(mb, float64(kb)/1024)
	}
	slices.Sort(mb)
	return mb[len(mb)/2]
}

func childNamed(b *testing.B, ppid int, name string) int {
	b.Helper()
	procs, err := listProcs()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range procs {
		if p.ppid == ppid && filepath.Base(p.argv0) == name {
			return p.pid
		}
	}
	var kids []string
	for _, p := range procs {
		if p.ppid == ppid {
			kids = append(kids, p.argv0)
		}
	}
	b.Fatalf("no child %q of webkube (pid %d); children: %s", name, ppid, strings.Join(kids, ", "))
	return 0
}
