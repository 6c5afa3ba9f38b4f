// Package stats reads what a kubelet reports as resource usage: each container's CPU time
// and memory working set from its cgroup (v2, or v1 where the host still mounts it), the
// node's from the host (/proc/stat, /proc/meminfo). Summary is the kubelet's
// /stats/summary document trimmed to what the metrics API reads (the shape of
// k8s.io/kubelet/pkg/apis/stats/v1alpha1).
package stats

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Summary is what GET /stats/summary answers.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the node's usage.
type NodeStats struct {
	NodeName string       `json:"nodeName"`
	CPU      *CPUStats    `json:"cpu,omitempty"`
	Memory   *MemoryStats `json:"memory,omitempty"`
}

// PodStats is one pod's containers' usage.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	Containers []ContainerStats `json:"containers"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// ContainerStats is one running container's usage.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// CPUStats: UsageNanoCores is the rate over Window, ending at Time.
type CPUStats struct {
	Time                 metav1.Time     `json:"time"`
	Window               metav1.Duration `json:"window"`
	UsageNanoCores       uint64          `json:"usageNanoCores"`
	UsageCoreNanoSeconds uint64          `json:"usageCoreNanoSeconds"`
}

// MemoryStats: the working set is usage minus inactive file pages, what the kubelet
// evicts on and the metrics API reports.
type MemoryStats struct {
	Time            metav1.Time `json:"time"`
	WorkingSetBytes uint64      `json:"workingSetBytes"`
}

// Usage is one reading of cumulative CPU time and current working set.
type Usage struct {
	CPUNanoSeconds  uint64
	WorkingSetBytes uint64
	// Start is when the CPU counter began, if the reading knows it (the host's boot).
	Start time.Time
}

// Root is where cgroups are mounted; tests point it at a directory of their own.
var Root = "/sys/fs/cgroup"

// ProcRoot is /proc; tests point it elsewhere.
var ProcRoot = "/proc"

// Process reads the usage of the cgroup process pid runs in (a container's init).
func Process(pid uint32) (Usage, error) {
	b, err := os.ReadFile(filepath.Join(ProcRoot, strconv.Itoa(int(pid)), "cgroup"))
	if err != nil {
		return Usage{}, fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	paths := map[string]string{} // controller → path; "" is the v2 unified hierarchy
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	if p, ok := paths["cpuacct"]; ok {
		return cgroupV1(p, paths["memory"])
	}
	if p, ok := paths[""]; ok {
		return cgroupV2(p)
	}
	return Usage{}, fmt.Errorf("pid %d: no cpuacct or unified cgroup", pid)
}

// cgroupV2: cpu.stat's usage_usec; memory.current less memory.stat's inactive_file.
func cgroupV2(path string) (Usage, error) {
	dir := filepath.Join(Root, path)
	cpu, err := keyed(filepath.Join(dir, "cpu.stat"), "usage_usec")
	if err != nil {
		return Usage{}, err
	}
	mem, err := single(filepath.Join(dir, "memory.current"))
	if err != nil {
		return Usage{}, err
	}
	inactive, _ := keyed(filepath.Join(dir, "memory.stat"), "inactive_file")
	return Usage{CPUNanoSeconds: cpu * 1000, WorkingSetBytes: sub(mem, inactive)}, nil
}

// cgroupV1: cpuacct.usage (ns); memory.usage_in_bytes less total_inactive_file.
func cgroupV1(cpuPath, memPath string) (Usage, error) {
	cpu, err := single(filepath.Join(Root, "cpuacct", cpuPath, "cpuacct.usage"))
	if err != nil {
		return Usage{}, err
	}
	dir := filepath.Join(Root, "memory", memPath)
	mem, err := single(filepath.Join(dir, "memory.usage_in_bytes"))
	if err != nil {
		return Usage{}, err
	}
	inactive, _ := keyed(filepath.Join(dir, "memory.stat"), "total_inactive_file")
	return Usage{CPUNanoSeconds: cpu, WorkingSetBytes: sub(mem, inactive)}, nil
}

// Host reads the whole machine: CPU time not idle from /proc/stat (USER_HZ is 100 on
// Linux), memory in use as MemTotal less MemAvailable.
func Host() (Usage, error) {
	f, err := os.Open(filepath.Join(ProcRoot, "stat"))
	if err != nil {
		return Usage{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return Usage{}, fmt.Errorf("%s/stat is empty", ProcRoot)
	}
	fields := strings.Fields(sc.Text()) // cpu user nice system idle iowait irq softirq steal ...
	var busy uint64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait; guest time is in user already
			busy += n
		}
	}
	var boot time.Time
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "btime" {
			secs, _ := strconv.ParseInt(f[1], 10, 64)
			boot = time.Unix(secs, 0)
		}
	}
	total, err := keyed(filepath.Join(ProcRoot, "meminfo"), "MemTotal:")
	if err != nil {
		return Usage{}, err
	}
	avail, _ := keyed(filepath.Join(ProcRoot, "meminfo"), "MemAvailable:")
	return Usage{CPUNanoSeconds: busy * uint64(time.Second/100), WorkingSetBytes: sub(total, avail) * 1024, Start: boot}, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func single(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// keyed reads "key value" lines and returns key's value.
func keyed(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			return strconv.ParseUint(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// Rates turns cumulative CPU time into a rate, as cAdvisor does between housekeeping
// readings: against the previous reading at least MinWindow older, or on the first
// reading against the start (so a first `kubectl top` has a figure: the average so far).
type Rates struct {
	MinWindow time.Duration // default 1s
	mu        sync.Mutex
	prev      map[string][2]reading // key → the two newest readings at least MinWindow apart
}

type reading struct {
	at  time.Time
	cpu uint64
}

// CPU returns the CPU stats for key's reading cpu (cumulative ns) at now; start is when
// the counter began (the container's start, the host's boot).
func (r *Rates) CPU(key string, cpu uint64, start, now time.Time) *CPUStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prev == nil {
		r.prev = map[string][2]reading{}
	}
	min := r.MinWindow
	if min == 0 {
		min = time.Second
	}
	pair, seen := r.prev[key]
	base := reading{at: start}
	switch {
	case !seen:
		pair = [2]reading{base, {now, cpu}}
	case now.Sub(pair[1].at) >= min:
		pair = [2]reading{pair[1], {now, cpu}}
	default:
		pair[1] = reading{now, cpu} // too soon: measure from the older one
	}
	r.prev[key] = pair
	base = pair[0]
	window := now.Sub(base.at)
	st := &CPUStats{Time: metav1.NewTime(now), Window: metav1.Duration{Duration: window}, UsageCoreNanoSeconds: cpu}
	if window > 0 && cpu >= base.cpu {
		st.UsageNanoCores = uint64(float64(cpu-base.cpu) / window.Seconds())
	}
	return st
}

// Forget drops keys not in keep (containers gone).
func (r *Rates) Forget(keep map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.prev {
		if !keep[k] {
			delete(r.prev, k)
		}
	}
}
