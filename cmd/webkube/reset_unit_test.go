package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// One webkube (or reset) per data dir: a second taker is told who holds it; the lock goes
// with its holder.
func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	release, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if !errors.Is(err, errDataDirBusy) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v, want busy naming pid %d", err, os.Getpid())
	}
	release()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

func TestParseResetFlags(t *testing.T) {
	if _, err := parseResetFlags([]string{"--data-dir", "/"}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("reset of /: %v", err)
	}
	if _, err := parseResetFlags([]string{"--bridge-prefix", "waytoolongprefix"}); err == nil {
		t.Fatal("a 16-char prefix was accepted")
	}
	cfg, err := parseResetFlags([]string{"--data-dir", "rel", "--data"})
	if err != nil || !cfg.data || !strings.HasSuffix(cfg.dataDir, "/rel") || cfg.dataDir[0] != '/' {
		t.Fatalf("got %+v, %v", cfg, err)
	}
}

// Without its data dir, reset does not guess whose network to remove.
func TestResetNeedsDataDirOrPrefix(t *testing.T) {
	err := reset(context.Background(), resetConfig{dataDir: filepath.Join(t.TempDir(), "typo")}, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "--bridge-prefix") {
		t.Fatalf("reset of a missing data dir without --bridge-prefix: %v", err)
	}
}

// When containerd cannot clean up, reset finds the shims of its data dir by their
// -address and kills them with their containers; processes of another dir stay.
func TestKillShimsByAddress(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	start := func(d string) *exec.Cmd {
		// Looks like a shim to killShims: its name and -address in argv, a child below it.
		// It outlives its child as a shim does (exec sleep): killShims kills the child
		// first, and a bare `wait` returned 0 and let the fake shim exit normally before
		// its own SIGKILL came (a CI flake).
		cmd := exec.Command("bash", "-c", "sleep 300 & wait; exec sleep 300", "containerd-shim-runc-v2", "-address", filepath.Join(d, "containerd.sock"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	mine, theirs := start(dir), start(other)
	var child int
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		for pid, p := range processes() {
			if p.ppid == mine.Process.Pid {
				child = pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the fake shim's child did not start")
	}
	if n := killShims(dir); n != 1 {
		t.Fatalf("killed %d shims, want 1", n)
	}
	if err := mine.Wait(); err == nil {
		t.Fatal("the shim exited normally, want killed")
	}
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); strings.Contains(string(b), ") Z ") {
			break // killed, waiting for init to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shim's child %d still runs", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(theirs.Process.Pid, 0); err != nil {
		t.Fatalf("the other dir's shim was killed: %v", err)
	}
}
