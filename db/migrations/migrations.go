// Package migrations holds webkube's SQLite schema as numbered SQL files.
//
// Files are named NNN_what.sql; NNN is the schema version. cluster/store applies the
// ones a database has not seen yet, in order, each in its own transaction. Never edit a
// file that has shipped: add the next number instead.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
