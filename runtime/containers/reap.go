package containers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/namespaces"
)

// shimBinary is the shim containerd starts for webkube's runtime (io.containerd.runc.v2).
const shimBinary = "containerd-shim-runc-v2"

// ReapShims kills the shims of this runtime's containerd namespace that serve no task
// containerd knows, with whatever they still run: what a crash leaves when containerd lost
// track of a shim (its bundle gone) or of a container. A shim is this runtime's when its
// -namespace and -address are; it serves a task when it is the parent of the task's
// process. Shims younger than minAge are left alone: one may be starting for a new
// container right now. It returns the PIDs it killed.
func (r *Runtime) ReapShims(ctx context.Context, minAge time.Duration) ([]int, error) {
	if r.cfg.Address == "" {
		return nil, nil
	}
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	// Shims first, tasks second: a shim started in between then serves a listed task or
	// is too young, never taken for an orphan.
	shims, err := r.ownShims(minAge)
	if err != nil || len(shims) == 0 {
		return nil, err
	}
	cs, err := r.client.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("containers: list: %w", err)
	}
	serving := map[int]bool{}
	for _, c := range cs {
		t, err := c.Task(ctx, nil)
		if err != nil || t.Pid() == 0 {
			continue
		}
		if pp, err := procPPid(int(t.Pid())); err == nil {
			serving[pp] = true
		}
	}
	var killed []int
	for _, pid := range shims {
		if serving[pid] {
			continue
		}
		r.log.Warn("killing a shim that serves no known task", "pid", pid, "namespace", r.cfg.Namespace)
		// Its children are container processes nobody tracks any more.
		for _, child := range procChildren(pid) {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, pid)
		}
	}
	return killed, nil
}

// ownShims lists the shim processes of this runtime's namespace and containerd address
// that are at least minAge old.
func (r *Runtime) ownShims(minAge time.Duration) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("containers: %w", err)
	}
	uptime, err := procUptime()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if filepath.Base(args[0]) != shimBinary || flagValue(args, "-namespace") != r.cfg.Namespace ||
			flagValue(args, "-address") != strings.TrimPrefix(r.cfg.Address, "unix://") {
			continue
		}
		if start, err := procStartSeconds(pid); err != nil || uptime-start < minAge.Seconds() {
			continue
		}
		out = append(out, pid)
	}
	return out, nil
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// procStat returns the fields of /proc/pid/stat after the command name: [0] is the state,
// [1] the parent, [19] the start time in clock ticks after boot.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("containers: short /proc/%d/stat", pid)
	}
	return f, nil
}

func procPPid(pid int) (int, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func procStartSeconds(pid int) (float64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	ticks, err := strconv.ParseFloat(f[19], 64)
	return ticks / clockTicks, err
}

func procUptime() (float64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("containers: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("containers: empty /proc/uptime")
	}
	return strconv.ParseFloat(f[0], 64)
}

// procChildren lists the children of pid; each thread of it (a Go shim has many) has its
// own list of the children it forked.
func procChildren(pid int) []int {
	var out []int
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
