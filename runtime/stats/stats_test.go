package stats

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fakeRoots(t *testing.T) (cg, proc string) {
	dir := t.TempDir()
	oldRoot, oldProc := Root, ProcRoot
	Root, ProcRoot = filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc")
	t.Cleanup(func() { Root, ProcRoot = oldRoot, oldProc })
	return Root, ProcRoot
}

// A container's usage comes from the cgroup its process is in: cpu time in ns, the
// working set without inactive file pages, on either cgroup version.
func TestProcessCgroupV1AndV2(t *testing.T) {
	cg, proc := fakeRoots(t)
	write(t, proc+"/7/cgroup", "4:memory:/webkube/c1\n3:cpu,cpuacct:/webkube/c1\n0::/\n")
	write(t, cg+"/cpuacct/webkube/c1/cpuacct.usage", "2500000000\n")
	write(t, cg+"/memory/webkube/c1/memory.usage_in_bytes", "10485760\n")
	write(t, cg+"/memory/webkube/c1/memory.stat", "cache 100\ntotal_inactive_file 2097152\n")
	u, err := Process(7)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUNanoSeconds != 2_500_000_000 || u.WorkingSetBytes != 8<<20 {
		t.Errorf("v1: got %+v, want 2.5e9 ns and 8 MiB", u)
	}

	write(t, proc+"/8/cgroup", "0::/webkube/c2\n")
	write(t, cg+"/webkube/c2/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n")
	write(t, cg+"/webkube/c2/memory.current", "4194304\n")
	write(t, cg+"/webkube/c2/memory.stat", "anon 1\ninactive_file 1048576\n")
	u, err = Process(8)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUNanoSeconds != 1_500_000_000 || u.WorkingSetBytes != 3<<20 {
		t.Errorf("v2: got %+v, want 1.5e9 ns and 3 MiB", u)
	}
	if _, err := Process(9); err == nil {
		t.Error("a pid that is gone gave no error")
	}
}

func TestHost(t *testing.T) {
	_, proc := fakeRoots(t)
	// user nice system idle iowait irq softirq steal guest
	write(t, proc+"/stat", "cpu  100 0 50 1000 20 5 5 0 30\ncpu0 1 2 3\nbtime 1700000000\n")
	write(t, proc+"/meminfo", "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\n")
	u, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUNanoSeconds != 160*10_000_000 || u.WorkingSetBytes != 600*1024 || !u.Start.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("got %+v, want 1.6 s busy, 600 KiB, boot at btime", u)
	}
}

// The rate: the first reading is the average since start; later ones are between
// readings at least MinWindow apart; a reading too soon after the last measures from the
// one before, so two quick `kubectl top`s do not divide by milliseconds.
func TestRates(t *testing.T) {
	var r Rates
	start := time.Unix(1000, 0)
	s := r.CPU("c", 2e9, start, start.Add(4*time.Second))
	if s.UsageNanoCores != 5e8 || s.Window.Duration != 4*time.Second {
		t.Errorf("first: %d nanocores over %v, want 5e8 over 4s", s.UsageNanoCores, s.Window.Duration)
	}
	s = r.CPU("c", 4e9, start, start.Add(6*time.Second)) // 1 core for 2 s
	if s.UsageNanoCores != 1e9 || s.Window.Duration != 2*time.Second {
		t.Errorf("second: %d over %v, want 1e9 over 2s", s.UsageNanoCores, s.Window.Duration)
	}
	s = r.CPU("c", 4.1e9, start, start.Add(6100*time.Millisecond))
	if s.Window.Duration != 2100*time.Millisecond {
		t.Errorf("too soon: window %v, want from the reading before (2.1s)", s.Window.Duration)
	}
	r.Forget(map[string]bool{})
	s = r.CPU("c", 5e9, start, start.Add(10*time.Second))
	if s.Window.Duration != 10*time.Second {
		t.Errorf("after Forget the window is %v, want since start", s.Window.Duration)
	}
}
