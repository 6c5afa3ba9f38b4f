package containers

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/namespaces"

	wkcd "webkube/runtime/containerd"
	"webkube/runtime/containers/containerstest"
)

// bundleDir is where containerd 1.6 keeps a task's bundle (its shim's address, its spec).
func bundleDir(id string) string {
	return filepath.Join(env.Daemon.DataDir(), "state", "io.containerd.runtime.v2.task", wkcd.Namespace, id)
}

// restartDaemon stops and starts the test containerd and waits until the client answers.
func restartDaemon(t *testing.T, ctx context.Context) {
	t.Helper()
	env.Daemon.Stop()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := env.Daemon.Start(sctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := env.Client.IsServing(sctx)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect to the restarted containerd: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartAfterHalfCreatedTask reproduces what a kill -9 of webkube during a container's
// creation leaves: containerd had started (or reused) the pod's shim and written the task's
// bundle, but the task was never created in the shim. The restarted containerd loads that
// bundle and holds a task nobody can see (no state, runc has no container), so every
// NewTask said "already exists" and the pod stayed Pending forever. Starting the container
// again, and a restarted Runtime, must clear it.
func TestStartAfterHalfCreatedTask(t *testing.T) {
	f := newFixture(t)
	pod := newPod("halfmade", sh("a", "sleep 300"), sh("b", "echo started; sleep 300"), sh("c", "sleep 300"))
	idA, nw := f.run(t, pod, 0, 0, nil)
	half := func(i int) string {
		id, err := f.rt.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[i], Image: f.busybox, Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		// The bundle of a task whose shim (the pod's, shared by its containers) started but
		// which was never created in it.
		addr, err := os.ReadFile(filepath.Join(bundleDir(idA), "address"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(bundleDir(id), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundleDir(id), "address"), addr, 0o600); err != nil {
			t.Fatal(err)
		}
		return id
	}
	idB, idC := half(1), half(2)
	restartDaemon(t, f.ctx)

	// The retry path: the kubelet starts the created container again.
	start := time.Now()
	if err := f.rt.StartContainer(f.ctx, idB); err != nil {
		t.Fatalf("start after a half-created task: %v", err)
	}
	t.Logf("started over a half-created task in %v", time.Since(start).Round(time.Millisecond))
	waitLog(t, f, idB, "started\n")

	// The start path: a restarted Runtime removes the half-created task, so its bundle
	// (and with it the shim's reference) is gone and the container starts cleanly.
	rt2, err := New(Config{Client: env.Client, RuncRoot: f.rt.cfg.RuncRoot, DataDir: f.rt.cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt2.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bundleDir(idC)); !os.IsNotExist(err) {
		t.Fatalf("bundle of the half-created task still there after Start: %v", err)
	}
	if err := rt2.StartContainer(f.ctx, idC); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{idA, idB, idC} {
		if st, err := rt2.Status(f.ctx, id); err != nil || st.State != StateRunning {
			t.Fatalf("%s: %+v, %v; want Running", id, st, err)
		}
	}
}

// TestReapShims: a shim containerd lost track of (its bundle gone, as after a crash that
// lost state) keeps its container running and ~13 MB of its own forever. ReapShims kills
// it and its process, once it is old enough, and leaves alone the shim of a known task and
// the shims of another namespace (another webkube's node) on the same containerd.
func TestReapShims(t *testing.T) {
	f := newFixture(t)
	rt, err := New(Config{Client: env.Client, RuncRoot: f.rt.cfg.RuncRoot, DataDir: f.rt.cfg.DataDir, Address: env.Daemon.Address()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	keptID, _ := f.run(t, newPod("kept", sh("c", "sleep 300")), 0, 0, nil)
	strayID, _ := f.run(t, newPod("stray", sh("c", "sleep 300")), 0, 0, nil)

	// Another node's namespace on the same containerd.
	otherNS := wkcd.Namespace + "-reaptest"
	octx := namespaces.WithNamespace(f.ctx, otherNS)
	other, err := New(Config{Client: env.Client, Namespace: otherNS, RuncRoot: f.rt.cfg.RuncRoot, DataDir: filepath.Join(f.dataDir, "other"), Address: env.Daemon.Address()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(octx); err != nil {
		t.Fatal(err)
	}
	img, err := env.Busybox(octx, "test/busybox:1", containerstest.ImageConfig{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	opod := newPod("other", sh("c", "sleep 300"))
	onw, err := f.net.SetUp(f.ctx, string(opod.UID), opod.Namespace, opod.Name)
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := other.Create(octx, CreateOptions{Pod: opod, Container: &opod.Spec.Containers[0], Image: img, Network: onw})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Remove(octx, otherID)
	if err := other.StartContainer(octx, otherID); err != nil {
		t.Fatal(err)
	}

	pid := func(r *Runtime, ctx context.Context, id string) int {
		st, err := r.Status(ctx, id)
		if err != nil || st.State != StateRunning {
			t.Fatalf("%s: %+v %v", id, st, err)
		}
		return int(st.Pid)
	}
	keptPid, strayPid, otherPid := pid(rt, f.ctx, keptID), pid(rt, f.ctx, strayID), pid(other, octx, otherID)
	strayShim, _ := procPPid(strayPid)
	keptShim, _ := procPPid(keptPid)
	otherShim, _ := procPPid(otherPid)

	// containerd loses the stray's bundle while it is down.
	env.Daemon.Stop()
	if err := syscall.Unmount(filepath.Join(bundleDir(strayID), "rootfs"), syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(bundleDir(strayID)); err != nil {
		t.Fatal(err)
	}
	restartDaemon(t, f.ctx)
	if _, err := rt.Status(f.ctx, strayID); err != nil {
		t.Fatal(err)
	}

	if killed, err := rt.ReapShims(f.ctx, time.Hour); err != nil || len(killed) != 0 {
		t.Fatalf("young shims reaped: %v %v", killed, err)
	}
	killed, err := rt.ReapShims(f.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) != 1 || killed[0] != strayShim {
		t.Fatalf("reaped %v, want only the stray shim %d (kept %d, other namespace %d)", killed, strayShim, keptShim, otherShim)
	}
	waitGone := func(pid int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			f, err := procStat(pid)
			if err != nil || f[0] == "Z" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d still there", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitGone(strayShim)
	waitGone(strayPid)
	for _, p := range []int{keptPid, keptShim, otherPid, otherShim} {
		if f, err := procStat(p); err != nil || f[0] == "Z" {
			t.Fatalf("process %d was killed", p)
		}
	}
}
