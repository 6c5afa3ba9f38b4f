-- compact_time is when compaction last ran (Unix milliseconds; 0 = never), so the
-- compactor keeps its schedule across restarts instead of starting its interval again
-- at every start (which, restarted often enough, never compacted at all).
INSERT INTO meta (key, value) VALUES ('compact_time', 0);

-- revision_time notes, at each compaction, the newest revision and the time: every
-- revision up to it existed by then. Compaction by age drops history older than
-- store.Config.MaxHistoryAge by these marks.
CREATE TABLE revision_time (
    revision INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL -- Unix milliseconds
);
