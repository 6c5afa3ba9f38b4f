package store

import "time"

// Checkpoints copy the WAL back into the database file. SQLite by default does it
// inside the COMMIT that crosses 1000 WAL pages, stalling that write (and with group
// commit, every write queued behind it): we measured 4-80 ms per checkpoint on this
// busy shared machine. A checkpointer on its own connection alone
// is not enough either: while writes never pause, the WAL is never fully copied at the
// moment a write begins, so SQLite never rewinds it and it grows without bound (960 MB
// for 64k 1 KiB writes). So it takes two steps: the checkpointer copies (and fsyncs)
// the bulk beside the writer, then the writer, between two batches, copies the few
// frames written meanwhile, and its next transaction rewinds the WAL.
//
// Measured with one writer at 1000 creates/s: p99 0.4-0.8 ms this way against 1.3-3.1 ms
// with SQLite's checkpoints. Saturated by 64 writers on 2 busy cores the extra
// goroutine costs some throughput; the API server never drives the store that hard.

// checkpointEvery is how many written rows make the writer ask for a checkpoint; for
// objects of about 1 KiB that is SQLite's own default of 1000 pages.
const checkpointEvery = 1000

// noteWritten counts rows the writer committed and asks for a checkpoint now and then.
// Writer goroutine only.
func (s *SQLite) noteWritten(rows int) {
	s.walRows += int64(rows)
	if s.walRows < checkpointEvery {
		return
	}
	s.walRows = 0
	select {
	case s.checkpoint <- struct{}{}:
	default: // one is already pending
	}
}

// checkpointer does the bulk of each checkpoint when the writer asks, and every few
// seconds anyway. PASSIVE neither waits for nor blocks the writer or readers.
func (s *SQLite) checkpointer() {
	t := s.cfg.Clock.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.checkpoint:
		case <-t.C():
		}
		if !s.bulkCheckpoint() {
			continue
		}
		// Hand over, and start no new bulk copy until the writer has finished: a
		// checkpoint of ours running then would make the writer's one return busy,
		// and under steady writes the WAL would never be rewound.
		s.catchUp <- struct{}{} // buffered, and empty: we wait for each hand-over
		select {
		case <-s.caughtUp:
		case <-s.quit:
			return
		}
	}
}

// checkpointCatchUp is how many WAL frames written during a bulk copy are few enough
// to leave to the writer.
const checkpointCatchUp = 500

// bulkCheckpoint copies the WAL into the database file, and once more if the writes
// during the first copy were many, so that the writer is left only a little (more
// rounds made each cycle, and so the WAL, longer under heavy load). It reports whether
// the writer should finish.
func (s *SQLite) bulkCheckpoint() bool {
	prev := -1
	for range 2 {
		var busy, log, copied int
		err := s.checkpointDB.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied)
		if err != nil {
			s.log.Warn("checkpoint failed", "err", err)
			return false
		}
		if busy != 0 || log <= 0 {
			return false // the WAL is empty (or another checkpoint runs, which cannot be)
		}
		if prev >= 0 && log-prev < checkpointCatchUp {
			break
		}
		prev = log
	}
	return true
}

// finishCheckpoint copies what was written during the bulk copy. Writer goroutine only,
// between transactions.
func (s *SQLite) finishCheckpoint() {
	if _, err := s.writeDB.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		s.log.Warn("checkpoint failed", "err", err)
	}
	s.caughtUp <- struct{}{} // buffered, and the checkpointer waits for exactly one
}
