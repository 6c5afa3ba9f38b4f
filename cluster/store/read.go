package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Get returns the current value of key, or ErrNotFound.
func (s *SQLite) Get(ctx context.Context, key string) (KeyValue, error) {
	if s.isClosed() {
		return KeyValue{}, ErrClosed
	}
	kv := KeyValue{Key: key}
	var deleted bool
	err := s.readDB.QueryRowContext(ctx,
		`SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1`, key).
		Scan(&kv.ModRevision, &kv.CreateRevision, &deleted, &kv.Value)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
		return KeyValue{}, ErrNotFound
	}
	if err != nil {
		return KeyValue{}, fmt.Errorf("store: get %s: %w", key, err)
	}
	return kv, nil
}

// List returns every live key under prefix, sorted by key, as of revision (0 = now),
// and the revision the list is consistent at.
func (s *SQLite) List(ctx context.Context, prefix string, revision int64) ([]KeyValue, int64, error) {
	if s.isClosed() {
		return nil, 0, ErrClosed
	}
	// One read transaction is one WAL snapshot: the current and compacted revisions and
	// the rows all come from the same moment, so a compaction or write committed
	// meanwhile cannot tear the list.
	tx, err := s.readDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	defer tx.Rollback()
	current, err := checkRevision(ctx, tx, revision)
	if err != nil {
		return nil, 0, err
	}
	if revision == 0 {
		revision = current
	}
	// The newest row of each key at or before revision, unless that row is a tombstone.
	cond, args := nameRange("name", prefix)
	q := `SELECT kv.name, kv.create_revision, kv.id, kv.value FROM kv
		JOIN (SELECT MAX(id) AS id FROM kv WHERE ` + cond + ` AND id <= ? GROUP BY name) AS newest
		ON kv.id = newest.id
		WHERE kv.deleted = 0 ORDER BY kv.name`
	rows, err := tx.QueryContext(ctx, q, append(args, revision)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	defer rows.Close()
	var kvs []KeyValue
	for rows.Next() {
		var kv KeyValue
		if err := rows.Scan(&kv.Key, &kv.CreateRevision, &kv.ModRevision, &kv.Value); err != nil {
			return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
		}
		kvs = append(kvs, kv)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	return kvs, revision, nil
}

// checkRevision reads the current and compacted revisions inside tx and says whether
// revision (0 = now) may be read in this snapshot. It returns the current revision.
func checkRevision(ctx context.Context, tx *sql.Tx, revision int64) (int64, error) {
	var current, compacted int64
	err := tx.QueryRowContext(ctx, `SELECT `+currentRevisionSQL+`,
		(SELECT value FROM meta WHERE key = 'compact_revision')`).Scan(&current, &compacted)
	if err != nil {
		return 0, fmt.Errorf("store: read revisions: %w", err)
	}
	if revision != 0 && revision < compacted {
		return 0, fmt.Errorf("%w: revision %d is older than %d", ErrCompacted, revision, compacted)
	}
	if revision > current {
		return 0, fmt.Errorf("%w: revision %d is newer than %d", ErrFuture, revision, current)
	}
	return current, nil
}

// nameRange is a WHERE condition on the name column selecting keys under prefix, as a
// range so SQLite walks the (name, id) index instead of scanning.
func nameRange(col, prefix string) (string, []any) {
	if end := prefixEnd(prefix); end != "" {
		return col + " >= ? AND " + col + " < ?", []any{prefix, end}
	}
	return col + " >= ?", []any{prefix}
}

// prefixEnd is the smallest key greater than every key starting with prefix, or ""
// when there is none (prefix empty or all 0xff).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// currentRevisionSQL is the store's current revision: the newest row's id. Compaction
// keeps the newest revision's row, and removes none above the compacted revision, which
// is here all the same; revision_floor is 1 for an empty store (see migration 004).
const currentRevisionSQL = `MAX(
		IFNULL((SELECT MAX(id) FROM kv), 0),
		(SELECT value FROM meta WHERE key = 'compact_revision'),
		(SELECT value FROM meta WHERE key = 'revision_floor'))`
