package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"webkube/db/migrations"
)

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNN_name.sql files from fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q is not named NNN_name.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("store: migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

func migrate(ctx context.Context, db *sql.DB, path string, clk clock.PassiveClock, log *slog.Logger) error {
	ms, err := loadMigrations(migrations.FS)
	if err != nil {
		return err
	}
	return applyMigrations(ctx, db, path, ms, clk, log)
}

// applyMigrations runs every migration the database has not recorded, each in its own
// transaction together with its schema_migrations row, so a crash leaves either all of
// one migration or none of it.
func applyMigrations(ctx context.Context, db *sql.DB, path string, ms []migration, clk clock.PassiveClock, log *slog.Logger) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("store: create schema_migrations in %s: %w", path, err)
	}
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT IFNULL(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: read schema version of %s: %w", path, err)
	}
	if have > known {
		return fmt.Errorf("store: database %s has schema version %d, but this webkube knows versions up to %d: "+
			"it was written by a newer webkube; run that newer webkube, or move %s aside to start with an empty cluster",
			path, have, known, path)
	}
	for _, m := range ms {
		applied, err := applyOne(ctx, db, m, clk)
		if err != nil {
			return fmt.Errorf("store: migrate %s to version %d (%s): %w", path, m.version, m.name, err)
		}
		if applied {
			log.Info("applied migration", "path", path, "version", m.version, "name", m.name)
		}
	}
	return nil
}

func applyOne(ctx context.Context, db *sql.DB, m migration, clk clock.PassiveClock) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, clk.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
}
