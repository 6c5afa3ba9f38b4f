package store

import "time"

// Checkpoints copy the WAL back into the database file. SQLite by default does it
// inside the COMMIT that crosses 1000 WAL pages, stalling that write (and with group
// commit, every write queued behind it) for milliseconds. A checkpointer on its own
// connection alone is not enough either: while writes never pause, the WAL is never
// fully copied at the moment a write begins, so SQLite never rewinds it and it grows
// without bound (we measured 960 MB for 64k 1 KiB writes). So it takes two steps: the
// checkpointer copies the bulk beside the writer, then the writer, between two
// batches, copies the few frames written meanwhile, and its next transaction rewinds
// the WAL.

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
		select {
		case s.catchUp <- struct{}{}:
		default:
		}
	}
}

// bulkCheckpoint copies the WAL into the database file, again while writes during the
// previous copy were many, so that little is left for the writer. It reports whether
// the writer should finish the job.
func (s *SQLite) bulkCheckpoint() bool {
	var prevLog int
	for range 4 {
		var busy, log, copied int
		err := s.checkpointDB.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied)
		if err != nil {
			s.log.Warn("checkpoint failed", "err", err)
			return false
		}
		if busy != 0 || log < 0 {
			return false // another checkpoint is running
		}
		if log-prevLog < checkpointCatchUp {
			break
		}
		prevLog = log
	}
	return true
}

// checkpointCatchUp is how many WAL frames written during a bulk copy the writer may
// be left to copy itself.
const checkpointCatchUp = 200

// finishCheckpoint copies what was written during the bulk copy. Writer goroutine only,
// between transactions.
func (s *SQLite) finishCheckpoint() {
	if _, err := s.writeDB.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		s.log.Warn("checkpoint failed", "err", err)
	}
}
