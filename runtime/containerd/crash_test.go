package containerd_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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

// TestMain lets the test binary act as a webkube that starts containerd and one container,
// to be killed with SIGKILL by TestKilledParentLeavesContainersRunning.
func TestMain(m *testing.M) {
	if dir := os.Getenv("WKCD_FAKE_WEBKUBE"); dir != "" {
		if err := fakeWebkube(dir); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		select {} // wait for SIGKILL
	}
	os.Exit(m.Run())
}

func fakeWebkube(dir string) error {
	d, err := wkcd.NewDaemon(wkcd.Config{DataDir: dir})
	if err != nil {
		return err
	}
	ctx := namespaces.WithNamespace(context.Background(), wkcd.Namespace)
	if err := d.Start(ctx); err != nil {
		return err
	}
	c, err := wkcd.Connect(ctx, d.Address(), wkcd.Namespace)
	if err != nil {
		return err
	}
	ctr, err := c.NewContainer(ctx, "survivor", wkcd.WithRuntime(dir),
		containerd.WithNewSpec(oci.WithRootFSPath(dir+"/rootfs"), oci.WithProcessArgs("/bin/busybox", "sleep", "300")))
	if err != nil {
		return err
	}
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return err
	}
	if err := task.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("ready %d %d\n", d.Pid(), task.Pid())
	return nil
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestKilledParentLeavesContainersRunning: `kill -9` of webkube takes its containerd down
// (Pdeathsig) but not the containers; the next webkube's daemon reattaches to them.
func TestKilledParentLeavesContainersRunning(t *testing.T) {
	requireRoot(t)
	dir := shortDir(t)
	busyboxRootfs(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WKCD_FAKE_WEBKUBE="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var daemonPid, ctrPid int
	if _, err := fmt.Sscanf(line, "ready %d %d", &daemonPid, &ctrPid); err != nil {
		t.Fatalf("fake webkube said %q", line)
	}
	defer func() {
		// Whatever happens, do not leave the sleep behind.
		if alive(ctrPid) {
			_ = syscall.Kill(ctrPid, syscall.SIGKILL)
		}
	}()

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for i := 0; alive(daemonPid); i++ {
		if i == 200 {
			_ = syscall.Kill(daemonPid, syscall.SIGKILL)
			t.Fatalf("containerd %d still running 10s after its parent was killed", daemonPid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !alive(ctrPid) {
		t.Fatalf("container process %d died with webkube", ctrPid)
	}

	d := startDaemon(t, dir)
	defer d.Stop()
	ctx := namespaces.WithNamespace(context.Background(), wkcd.Namespace)
	c, err := wkcd.Connect(ctx, d.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctr, err := c.LoadContainer(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		t.Fatalf("reattach: %v", err)
	}
	if int(task.Pid()) != ctrPid {
		t.Errorf("reattached task pid %d, want %d", task.Pid(), ctrPid)
	}
	if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStartReplacesLeftoverDaemon: a containerd still running on the same data dir (its
// parent gone before Pdeathsig could act) is stopped, not fought over.
func TestStartReplacesLeftoverDaemon(t *testing.T) {
	requireRoot(t)
	dir := shortDir(t)
	d1 := startDaemon(t, dir)
	defer d1.Stop()
	old := d1.Pid()
	d2 := startDaemon(t, dir)
	defer d2.Stop()
	if d2.Pid() == old {
		t.Fatal("same pid")
	}
	for i := 0; alive(old); i++ {
		if i == 100 {
			t.Fatalf("leftover containerd %d still running", old)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := wkcd.Connect(context.Background(), d2.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestDaemonSurvivesThreadExits: Pdeathsig fires when the OS thread that started the child
// exits, and Go ends threads whose goroutine exits while locked to them (containerd's netns
// package does exactly that for every pod). containerd must not die of it.
func TestDaemonSurvivesThreadExits(t *testing.T) {
	requireRoot(t)
	d := startDaemon(t, shortDir(t))
	defer d.Stop()
	pid := d.Pid()
	for i := 0; i < 200; i++ {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			close(done)
		}()
		<-done
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("containerd died when threads of its parent exited")
	}
	c, err := wkcd.Connect(context.Background(), d.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestKilledDaemonIsRestarted: a containerd that dies on its own (kill -9) is restarted
// with back-off; Health says why it is down meanwhile, containers keep running and are
// found again, and a stopped daemon stays stopped.
func TestKilledDaemonIsRestarted(t *testing.T) {
	requireRoot(t)
	dir := shortDir(t)
	busyboxRootfs(t, dir)
	d, err := wkcd.NewDaemon(wkcd.Config{DataDir: dir, RestartDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), wkcd.Namespace)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := wkcd.Connect(ctx, d.Address(), wkcd.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctr, err := c.NewContainer(ctx, "kept", wkcd.WithRuntime(dir),
		containerd.WithNewSpec(oci.WithRootFSPath(dir+"/rootfs"), oci.WithProcessArgs("/bin/busybox", "sleep", "300")))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		task.Delete(ctx, containerd.WithProcessKill)
		ctr.Delete(ctx)
	}()
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}

	for round := 1; round <= 2; round++ {
		old := d.Pid()
		killed := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 2*time.Second, "Health reports the dead containerd", func() bool {
			err := d.Health()
			return err != nil && strings.Contains(err.Error(), "killed")
		})
		waitUntil(t, 10*time.Second, "containerd restarted", func() bool { return d.Health() == nil && d.Pid() != old })
		took := time.Since(killed)
		t.Logf("round %d: restarted in %v", round, took.Round(time.Millisecond))
		// The second exit within a minute waits twice as long.
		if want := time.Duration(round) * 300 * time.Millisecond; took < want {
			t.Fatalf("round %d: restarted after %v, want a back-off of at least %v", round, took, want)
		}
		waitUntil(t, 10*time.Second, "the client reconnected and finds the running task", func() bool {
			st, err := task.Status(ctx)
			return err == nil && st.Status == containerd.Running
		})
	}

	d.Stop()
	pid := d.Pid()
	time.Sleep(time.Second) // longer than the back-off: a restart would have happened
	if d.Pid() != 0 || pid != 0 || d.Health() == nil {
		t.Fatalf("stopped daemon restarted: pid %d, health %v", d.Pid(), d.Health())
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
