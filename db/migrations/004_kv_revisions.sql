-- The writer assigns revisions itself, so kv needs neither AUTOINCREMENT, whose
-- sqlite_sequence row every insert rewrote, nor the unique (name, prev_revision) index,
-- which only guarded against two writers superseding the same row: there is one writer,
-- and it reads the key's newest row in the same transaction. Each was one more B-tree
-- to write per commit (13.4 pwrites per pod create before, 8.6 after).
--
-- The current revision is now the newest id (see currentRevisionSQL); revision_floor
-- keeps what sqlite_sequence said: 1 for an empty store, whose first write is revision
-- 2 as before.
INSERT INTO meta (key, value)
    VALUES ('revision_floor', IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'kv'), 1));

CREATE TABLE kv_new (
    id              INTEGER PRIMARY KEY,
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

INSERT INTO kv_new (id, name, created, deleted, create_revision, prev_revision, value)
    SELECT id, name, created, deleted, create_revision, prev_revision, value FROM kv;

DROP TABLE kv;

ALTER TABLE kv_new RENAME TO kv;

CREATE INDEX kv_name_id ON kv (name, id);
