package containerd_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"

	wkcd "webkube/runtime/containerd"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (containerd, runc)")
	}
	if err := wkcd.CheckBinaries(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("busybox-static missing: apt-get install -y busybox-static")
	}
}

func startDaemon(t testing.TB, dir string) *wkcd.Daemon {
	t.Helper()
	d, err := wkcd.NewDaemon(wkcd.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// shortDir returns a temp dir with a short path: unix socket paths are limited to 108 bytes.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wkcd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// busyboxRootfs makes a directory rootfs holding busybox-static, so this package's tests need
// no image.
func busyboxRootfs(t testing.TB, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestDaemonStartConfigStop(t *testing.T) {
	requireRoot(t)
	dir := shortDir(t)
	start := time.Now()
	d := startDaemon(t, dir)
	t.Logf("containerd ready in %v", time.Since(start))
	defer d.Stop()

	if _, err := os.Stat(d.Address()); err != nil {
		t.Fatalf("socket: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"io.containerd.grpc.v1.cri"`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.Address() + ".ttrpc"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.toml lacks %s", want)
		}
	}
	c, err := wkcd.Connect(context.Background(), d.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Version(context.Background())
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd version %s", v.Version)
	// The CRI plugin is off: it would otherwise open /etc/cni and a streaming server.
	if out, _ := os.ReadFile(d.LogPath()); strings.Contains(string(out), "cri plugin") && !strings.Contains(string(out), "disabled") {
		t.Errorf("CRI plugin seems active:\n%s", out)
	}
	pid := d.Pid()
	d.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("containerd pid %d still alive after Stop", pid)
	}
	if _, err := wkcd.Connect(context.Background(), d.Address(), wkcd.Namespace); err == nil {
		t.Fatal("Connect succeeded after Stop")
	}
}

func TestNewDaemonErrors(t *testing.T) {
	if _, err := wkcd.NewDaemon(wkcd.Config{}); err == nil {
		t.Error("no DataDir: want error")
	}
	if _, err := wkcd.NewDaemon(wkcd.Config{DataDir: "/tmp/" + strings.Repeat("x", 100)}); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("long data dir: got %v", err)
	}
	if os.Geteuid() == 0 {
		_, err := wkcd.NewDaemon(wkcd.Config{DataDir: t.TempDir(), Binary: "no-such-containerd"})
		if err == nil || !strings.Contains(err.Error(), "apt-get install -y containerd") {
			t.Errorf("missing binary: got %v", err)
		}
	}
	// Not root: run this test binary again as nobody.
	if os.Getenv("WKCD_AS_NOBODY") == "1" {
		_, err := wkcd.NewDaemon(wkcd.Config{DataDir: os.TempDir()})
		if err != wkcd.ErrNotRoot {
			t.Fatalf("as non-root: got %v, want ErrNotRoot", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root to switch to nobody")
	}
	// The go test binary sits in a directory only root may enter: copy it out for nobody.
	bin := filepath.Join(shortDir(t), "daemon.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestNewDaemonErrors$")
	cmd.Env = append(os.Environ(), "WKCD_AS_NOBODY=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// TestDaemonRestartKeepsContainers is the webkube-restart story: a container keeps running
// while containerd is down, and the next daemon reattaches to its task.
func TestDaemonRestartKeepsContainers(t *testing.T) {
	requireRoot(t)
	dir := shortDir(t)
	d := startDaemon(t, dir)
	defer d.Stop()
	ctx := namespaces.WithNamespace(context.Background(), wkcd.Namespace)
	c, err := wkcd.Connect(ctx, d.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := busyboxRootfs(t, dir)
	id := "restart-test"
	ctr, err := c.NewContainer(ctx, id,
		wkcd.WithRuntime(dir),
		containerd.WithNewSpec(oci.WithRootFSPath(rootfs), oci.WithProcessArgs("/bin/busybox", "sleep", "300")))
	if err != nil {
		t.Fatal(err)
	}
	cleanup := func() {
		cctx := namespaces.WithNamespace(context.Background(), wkcd.Namespace)
		cl, err := wkcd.Connect(cctx, d.Address(), wkcd.Namespace)
		if err != nil {
			return
		}
		defer cl.Close()
		if ct, err := cl.LoadContainer(cctx, id); err == nil {
			if task, err := ct.Task(cctx, nil); err == nil {
				_, _ = task.Delete(cctx, containerd.WithProcessKill)
			}
			_ = ct.Delete(cctx)
		}
	}
	defer cleanup()
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := int(task.Pid())
	// The runc state lives under our runc root, not /run/containerd/runc.
	if _, err := os.Stat(filepath.Join(wkcd.RuncRoot(dir), wkcd.Namespace, id)); err != nil {
		t.Errorf("runc state not under our runc root: %v", err)
	}
	c.Close()

	d.Stop()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("container process %d died with containerd: %v", pid, err)
	}

	d2 := startDaemon(t, dir)
	defer d2.Stop()
	c2, err := wkcd.Connect(ctx, d2.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctr2, err := c2.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	task2, err := ctr2.Task(ctx, nil)
	if err != nil {
		t.Fatalf("reattach: %v", err)
	}
	st, err := task2.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != containerd.Running || int(task2.Pid()) != pid {
		t.Fatalf("after restart: status %s pid %d, want running pid %d", st.Status, task2.Pid(), pid)
	}
	wait, err := task2.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task2.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait:
	case <-time.After(10 * time.Second):
		t.Fatal("task did not exit after SIGKILL")
	}
	if _, err := task2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
