package containers

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	wkcd "webkube/runtime/containerd"
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
