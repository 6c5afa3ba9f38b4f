-- kv is the revision log, as in kine: every create, update and delete appends one row,
-- and the row id is the revision the API server hands out as resourceVersion.
-- AUTOINCREMENT keeps ids from ever being reused, even after compaction deletes the
-- newest tombstones.
CREATE TABLE kv (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    -- created: this row started the key's life (ADDED); deleted: a tombstone (DELETED)
    -- whose value is the last value the key had.
    created         INTEGER NOT NULL DEFAULT 0 CHECK (created IN (0, 1)),
    deleted         INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    create_revision INTEGER NOT NULL,
    -- prev_revision is the row this one supersedes (0 for the first create of a key).
    prev_revision   INTEGER NOT NULL,
    value           BLOB    NOT NULL
);

-- Two writers that both read revision N of a key and both try to write after it collide
-- here, so a racing writer loses instead of forking the key's history.
CREATE UNIQUE INDEX kv_name_prev_revision ON kv (name, prev_revision);

-- Newest row per key, and prefix scans for List.
CREATE INDEX kv_name_id ON kv (name, id);

-- meta holds small named numbers; compact_revision is the oldest revision a List or
-- Watch may still ask for.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('compact_revision', 0);

-- Revision 1 is the empty cluster; the first write is revision 2. So even a list of an
-- empty store has a non-zero revision to watch from, and a watch from revision 0 can
-- unambiguously mean "from now".
INSERT INTO sqlite_sequence (name, seq) VALUES ('kv', 1);
