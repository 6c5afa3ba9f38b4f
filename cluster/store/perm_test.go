package store

import (
	"os"
	"testing"
)

// TestFileModes: the database holds every Secret, so its file, WAL and shared-memory
// file are the owner's alone, also when an older webkube left them readable by all.
func TestFileModes(t *testing.T) {
	check := func(t *testing.T, path string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("stat after opening and writing: %v", err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", p, m)
			}
		}
	}
	t.Run("OK", func(t *testing.T) {
		cfg := testConfig(t)
		s := openStore(t, cfg)
		mustCreate(t, s, "/secret", "hush")
		check(t, cfg.Path)
	})
	t.Run("WideOpenFilesTightened", func(t *testing.T) {
		cfg := testConfig(t)
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, "/secret", "hush")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// As an older webkube killed mid-write would leave them (empty WAL and SHM
		// files are valid: SQLite rebuilds the SHM and finds no frames in the WAL).
		if err := os.Chmod(cfg.Path, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{cfg.Path + "-wal", cfg.Path + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s2 := openStore(t, cfg)
		mustCreate(t, s2, "/secret2", "hush")
		check(t, cfg.Path)
	})
}
