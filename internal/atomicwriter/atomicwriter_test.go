package atomicwriter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The layout is the kubelet's: ..data → a timestamped directory, each top-level name a
// symlink through ..data; an update swaps ..data, drops names no longer there and the old
// directory; an unchanged payload is not written again.
func TestWriteSwapsDataLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	changed, err := Write(dir, []File{{Path: "labels", Data: []byte(`app="web"`), Mode: 0o644},
		{Path: "db/password", Data: []byte("s3cr3t"), Mode: 0o400}}, now)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v %v", changed, err)
	}
	first, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(first, "..2026_01_02_03_04_05.") {
		t.Fatalf("..data → %q %v", first, err)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "labels")); target != "..data/labels" {
		t.Errorf("labels → %q, want ..data/labels", target)
	}
	if got := read(t, filepath.Join(dir, "db/password")); got != "s3cr3t" {
		t.Errorf("db/password = %q", got)
	}
	if info, _ := os.Stat(filepath.Join(dir, "db/password")); info.Mode().Perm() != 0o400 {
		t.Errorf("db/password mode %v, want 0400", info.Mode().Perm())
	}

	changed, err = Write(dir, []File{{Path: "labels", Data: []byte(`app="web"`), Mode: 0o644},
		{Path: "db/password", Data: []byte("s3cr3t"), Mode: 0o400}}, now.Add(time.Second))
	if err != nil || changed {
		t.Fatalf("same payload: changed=%v %v", changed, err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("an unchanged payload was written again: %s → %s", first, again)
	}

	changed, err = Write(dir, []File{{Path: "labels", Data: []byte("app=\"web\"\ntier=\"front\""), Mode: 0o644}}, now.Add(2*time.Second))
	if err != nil || !changed {
		t.Fatalf("update: changed=%v %v", changed, err)
	}
	if got := read(t, filepath.Join(dir, "labels")); got != "app=\"web\"\ntier=\"front\"" {
		t.Errorf("labels after update = %q", got)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "..2026_01_02_03_04_07.") || names[1] != "..data" || names[2] != "labels" {
		t.Errorf("after the update the volume holds %v, want the new timestamped directory, ..data and labels", names)
	}
}

// A volume written before this layout (plain files) is taken over; a path that could
// leave the volume or collide with ..data is refused and nothing is written.
func TestWriteReplacesPlainFilesAndRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mode"), []byte("dev"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, []File{{Path: "mode", Data: []byte("prod"), Mode: 0o644}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "mode")); got != "prod" {
		t.Errorf("mode = %q", got)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x", "..data", "a/..b"} {
		if _, err := Write(dir, []File{{Path: bad, Data: []byte("x"), Mode: 0o644}}, time.Now()); err == nil {
			t.Errorf("path %q was accepted", bad)
		}
	}
	if got := read(t, filepath.Join(dir, "mode")); got != "prod" {
		t.Errorf("a refused write changed the volume: mode = %q", got)
	}
}
