package store

import (
	"context"
	"fmt"
)

// compactLoop drops old history every CompactInterval until Close.
func (s *SQLite) compactLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := s.cfg.Clock.NewTicker(s.cfg.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C():
			if err := s.Compact(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("compaction failed", "err", err)
			}
		}
	}
}

// Compact drops history so that only the newest KeepRevisions revisions stay readable,
// in transactions of CompactBatch revisions each so the writer waits only briefly.
// It removes rows superseded at or before the new compacted revision and tombstones
// at or before it; the current row of a live key is never superseded, so it stays.
// Rows superseded later stay too: a watch replaying from the compacted revision needs
// them as PrevKV, and a List at that revision needs them as values.
func (s *SQLite) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	target := s.rev.Load() - s.cfg.KeepRevisions
	var total int64
	from := s.compacted.Load()
	for from < target {
		to := min(from+s.cfg.CompactBatch, target)
		n, err := s.compactBatch(ctx, from, to)
		if err != nil {
			return err
		}
		s.compacted.Store(to)
		total += n
		from = to
	}
	if total > 0 {
		s.log.Info("compacted", "revision", from, "rowsDeleted", total)
	}
	return nil
}

func (s *SQLite) compactBatch(ctx context.Context, from, to int64) (int64, error) {
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	defer tx.Rollback()
	// Rows superseded by a write in (from, to].
	res, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE id IN
		(SELECT prev_revision FROM kv WHERE id > ? AND id <= ? AND prev_revision != 0)`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	superseded, _ := res.RowsAffected()
	res, err = tx.ExecContext(ctx, `DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1`, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	tombstones, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'compact_revision'`, to); err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	return superseded + tombstones, nil
}
