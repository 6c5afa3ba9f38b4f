package store

import (
	"context"
	"fmt"
	"os"
)

// The database file gives back the pages compaction frees: auto_vacuum=INCREMENTAL
// keeps a free-page list that incremental_vacuum truncates away after each compaction.
// Without it SQLite reuses freed pages but never shrinks the file, so a cluster that
// once held many objects kept that size for ever.

// vacuumPages is how many free pages one incremental_vacuum step returns (8 MB at 4 KiB
// pages), so the writer, which shares the connection, waits only briefly.
const vacuumPages = 2000

// enableIncrementalVacuum sets auto_vacuum=INCREMENTAL. On a new, empty database the
// pragma alone does it; a database made before needs one VACUUM to change mode, which
// cannot run in a migration's transaction, so it runs here, once.
func (s *SQLite) enableIncrementalVacuum(ctx context.Context) error {
	var mode int
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("store: read auto_vacuum of %s: %w", s.path, err)
	}
	const incremental = 2
	if mode == incremental {
		return nil
	}
	if _, err := s.writeDB.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("store: set auto_vacuum of %s: %w", s.path, err)
	}
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode == incremental {
		return err
	}
	s.log.Info("switching the database to incremental vacuum (one VACUUM)", "path", s.path)
	if _, err := s.writeDB.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("store: vacuum %s: %w", s.path, err)
	}
	return nil
}

// vacuum returns the free pages to the file system, a step at a time.
func (s *SQLite) vacuum(ctx context.Context) error {
	for {
		var free int64
		if err := s.writeDB.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return fmt.Errorf("store: vacuum: %w", err)
		}
		if free == 0 {
			return nil
		}
		if _, err := s.writeDB.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumPages)); err != nil {
			return fmt.Errorf("store: vacuum: %w", err)
		}
	}
}

// DiskSize is the bytes the store takes on disk: the database file and its WAL.
func (s *SQLite) DiskSize() (int64, error) {
	var total int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store: size: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}
