package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
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

// Without its data dir, reset does not guess whose network to remove.
func TestResetNeedsDataDirOrPrefix(t *testing.T) {
	err := reset(context.Background(), resetConfig{dataDir: filepath.Join(t.TempDir(), "typo")}, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "--bridge-prefix") {
		t.Fatalf("reset of a missing data dir without --bridge-prefix: %v", err)
	}
}
