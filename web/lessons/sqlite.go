package lessons

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, as cluster/store uses
)

// SQLite keeps progress in webkube's database (table lesson_progress, migration 003,
// applied by cluster/store when it opens the file).
type SQLite struct{ db *sql.DB }

// OpenSQLite opens the database at path; the store must have migrated it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000&_journal_mode=WAL")
	if err != nil {
		return nil, fmt.Errorf("lessons: open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, `SELECT 1 FROM lesson_progress LIMIT 1`); err != nil {
		db.Close()
		return nil, fmt.Errorf("lessons: %s has no lesson_progress table (not migrated?): %w", path, err)
	}
	return &SQLite{db: db}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Done lists the lesson's passed steps with when they passed.
func (s *SQLite) Done(ctx context.Context, lesson string) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT step, done_at FROM lesson_progress WHERE lesson = ?`, lesson)
	if err != nil {
		return nil, fmt.Errorf("lessons: read progress: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var step string
		var at int64
		if err := rows.Scan(&step, &at); err != nil {
			return nil, fmt.Errorf("lessons: read progress: %w", err)
		}
		out[step] = time.UnixMilli(at)
	}
	return out, rows.Err()
}

// MarkDone records a passed step (once; a second pass keeps the first time).
func (s *SQLite) MarkDone(ctx context.Context, lesson, step string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO lesson_progress(lesson, step, done_at) VALUES (?, ?, ?)`,
		lesson, step, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("lessons: record %s/%s: %w", lesson, step, err)
	}
	return nil
}

// Reset forgets the lesson's progress.
func (s *SQLite) Reset(ctx context.Context, lesson string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM lesson_progress WHERE lesson = ?`, lesson); err != nil {
		return fmt.Errorf("lessons: reset %s: %w", lesson, err)
	}
	return nil
}
