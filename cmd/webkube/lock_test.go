package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
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
