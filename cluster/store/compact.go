package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// compactLoop compacts every CompactInterval until Close. The interval counts from the
// last compaction the database recorded, not from this start: a webkube restarted more
// often than the interval would otherwise never compact. Overdue (or never compacted),
// it compacts at once.
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
	next := s.lastCompact.Add(s.cfg.CompactInterval) // zero lastCompact: due long ago
	for {
		if wait := next.Sub(s.cfg.Clock.Now()); wait > 0 {
			t := s.cfg.Clock.NewTimer(wait)
			select {
			case <-s.quit:
				t.Stop()
				return
			case <-t.C():
			}
		}
		if err := s.Compact(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("compaction failed", "err", err)
		}
		next = s.cfg.Clock.Now().Add(s.cfg.CompactInterval)
	}
}

// Compact drops history so that at most the newest KeepRevisions revisions stay
// readable, and none older than MaxHistoryAge beyond the newest MinRevisions, in
// transactions of CompactBatch revisions each so the writer waits only briefly.
// It removes rows superseded at or before the new compacted revision and tombstones
// at or before it; the current row of a live key is never superseded, so it stays.
// Rows superseded later stay too: a watch replaying from the compacted revision needs
// them as PrevKV, and a List at that revision needs them as values.
func (s *SQLite) Compact(ctx context.Context) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	now, cur := s.cfg.Clock.Now(), s.rev.Load()
	target, err := s.compactTarget(ctx, now, cur)
	if err != nil {
		return err
	}
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
		if err := s.vacuum(ctx); err != nil {
			return err
		}
	}
	return s.noteCompaction(ctx, now, cur)
}

// compactTarget is the revision to compact to: the bound by count, or the newest
// revision known to have existed MaxHistoryAge ago if that is newer, but never within
// the newest MinRevisions.
func (s *SQLite) compactTarget(ctx context.Context, now time.Time, cur int64) (int64, error) {
	target := cur - s.cfg.KeepRevisions
	if s.cfg.MaxHistoryAge < 0 {
		return target, nil
	}
	var old sql.NullInt64
	err := s.writeDB.QueryRowContext(ctx, `SELECT MAX(revision) FROM revision_time WHERE at <= ?`,
		now.Add(-s.cfg.MaxHistoryAge).UnixMilli()).Scan(&old)
	if err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	if old.Valid {
		target = max(target, min(old.Int64, cur-s.cfg.MinRevisions))
	}
	return target, nil
}

// noteCompaction records when compaction ran and the revision reached by then, and
// forgets marks at or below the compacted revision (no later target can use them).
func (s *SQLite) noteCompaction(ctx context.Context, now time.Time, cur int64) error {
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	defer tx.Rollback()
	ms := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO revision_time (revision, at) VALUES (?, ?)`, cur, ms); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM revision_time WHERE revision <= ?`, s.compacted.Load()); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'compact_time'`, ms); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: compact: %w", err)
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
