package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
)

// Writes go through one goroutine (writer) that takes whatever is queued, up to
// MaxBatch, and commits it as one SQLite transaction: group commit. Each write still
// gets its own row and revision, and nobody is acknowledged before the COMMIT. One
// writer also makes revision order, commit order and publish order the same thing,
// which is what lets Watch splice replay and live events without gaps.

type opKind int

const (
	opCreate opKind = iota + 1
	opUpdate
	opDelete
)

type op struct {
	ctx      context.Context
	kind     opKind
	key      string
	value    []byte
	owned    bool // value is the store's to keep: not copied
	expected int64
	done     chan opResult // buffered: the writer never waits for a caller
}

type opResult struct {
	ev  Event
	err error
}

// Create adds key and returns the new revision, or ErrExists.
func (s *SQLite) Create(ctx context.Context, key string, value []byte) (int64, error) {
	ev, err := s.submit(ctx, &op{kind: opCreate, key: key, value: value})
	return ev.KV.ModRevision, err
}

// CreateOwned is Create for a value the caller hands over: the store and its watchers
// keep value itself, so the caller must never change it again (a fresh encoding, say).
// Copying it was about 1% of a pod create's CPU (BenchmarkPodCreate).
func (s *SQLite) CreateOwned(ctx context.Context, key string, value []byte) (int64, error) {
	ev, err := s.submit(ctx, &op{kind: opCreate, key: key, value: value, owned: true})
	return ev.KV.ModRevision, err
}

// Update replaces key's value if its current ModRevision is expectedRevision (0 = any).
func (s *SQLite) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	ev, err := s.submit(ctx, &op{kind: opUpdate, key: key, value: value, expected: expectedRevision})
	return ev.KV.ModRevision, err
}

// Delete removes key if its current ModRevision is expectedRevision (0 = any). The
// returned KeyValue holds the deleted value, with ModRevision set to the delete's revision.
func (s *SQLite) Delete(ctx context.Context, key string, expectedRevision int64) (KeyValue, error) {
	ev, err := s.submit(ctx, &op{kind: opDelete, key: key, expected: expectedRevision})
	return ev.KV, err
}

func (s *SQLite) submit(ctx context.Context, o *op) (Event, error) {
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	if s.isClosed() {
		return Event{}, ErrClosed
	}
	// Watchers share the stored slice, so the caller must not be able to change it.
	if !o.owned {
		o.value = append([]byte{}, o.value...)
	}
	o.ctx = ctx
	o.done = make(chan opResult, 1)
	select {
	case s.ops <- o:
	case <-s.quit:
		return Event{}, ErrClosed
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
	select {
	case r := <-o.done:
		return r.ev, r.err
	case <-ctx.Done():
		// The write may still commit; like etcd, the caller cannot know.
		return Event{}, ctx.Err()
	case <-s.writerDone:
		select {
		case r := <-o.done:
			return r.ev, r.err
		default:
			return Event{}, ErrClosed
		}
	}
}

func (s *SQLite) writer() {
	batch := make([]*op, 0, s.cfg.MaxBatch)
	for {
		select {
		case <-s.quit:
			s.failQueued()
			return
		case <-s.catchUp:
			s.finishCheckpoint()
		case o := <-s.ops:
			batch = append(batch[:0], o)
			if len(s.ops) == 0 {
				// Let callers that are about to submit (runnable on this P) do so
				// first: a transaction costs about as much as two more rows in it.
				// With nothing else runnable this returns at once.
				runtime.Gosched()
			}
		fill:
			for len(batch) < s.cfg.MaxBatch {
				select {
				case o := <-s.ops:
					batch = append(batch, o)
				default:
					break fill
				}
			}
			s.commitBatch(batch)
			clear(batch) // drop references to values already written
		}
	}
}

func (s *SQLite) failQueued() {
	for {
		select {
		case o := <-s.ops:
			o.done <- opResult{err: ErrClosed}
		default:
			return
		}
	}
}

// commitBatch writes batch in one transaction, then publishes the events to watchers,
// then acknowledges each caller. Publishing happens only after COMMIT, so no watcher
// ever sees a write that could still roll back.
func (s *SQLite) commitBatch(batch []*op) {
	results := make([]opResult, len(batch))
	var events []Event
	rev := s.rev.Load()
	err := func() error {
		// Not a caller's context: one caller giving up must not roll back the others.
		ctx := context.Background()
		tx, err := s.writeDB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		w := &writeTx{
			latestStmt: tx.StmtContext(ctx, s.latestStmt),
			insertStmt: tx.StmtContext(ctx, s.insertStmt),
		}
		for i, o := range batch {
			if err := o.ctx.Err(); err != nil {
				results[i].err = err // caller already gone: don't write on its behalf
				continue
			}
			ev, err := w.apply(ctx, o, rev+1)
			if errors.Is(err, ErrExists) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
				results[i].err = err
				continue
			}
			if err != nil {
				return err
			}
			rev++
			results[i].ev = ev
			events = append(events, ev)
		}
		if len(events) == 0 {
			return nil
		}
		return tx.Commit()
	}()
	if err != nil {
		s.log.Error("write transaction failed", "writes", len(batch), "err", err)
		err = fmt.Errorf("store: write: %w", err)
		for i := range results {
			if results[i].err == nil {
				results[i] = opResult{err: err}
			}
		}
	} else if len(events) > 0 {
		s.rev.Store(rev)
		s.noteWritten(len(events))
		if s.afterCommit != nil {
			s.afterCommit(events)
		}
		s.bus.publish(events)
	}
	for i, o := range batch {
		o.done <- results[i]
	}
}

type row struct {
	id, createRev int64
	deleted       bool
	value         []byte
}

// writeTx is one write transaction with the writer's statements bound to it.
type writeTx struct {
	latestStmt, insertStmt *sql.Stmt
}

// statements are prepared once on the writer's only connection and reused by every
// transaction, which saves SQLite parsing them for every write.
const (
	latestSQL = `SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1`
	insertSQL = `INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value)
	VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// latest reads the newest row of key inside the write transaction.
func (w *writeTx) latest(ctx context.Context, key string) (row, bool, error) {
	var r row
	err := w.latestStmt.QueryRowContext(ctx, key).Scan(&r.id, &r.createRev, &r.deleted, &r.value)
	if r.value == nil {
		r.value = []byte{} // the column is NOT NULL; a nil slice would bind as NULL
	}
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, false, nil
	}
	if err != nil {
		return row{}, false, err
	}
	return r, true, nil
}

// apply checks o against the key's newest row and appends o's row at revision rev.
// Revisions are assigned here rather than by AUTOINCREMENT so create_revision of a
// create can be its own id in the same INSERT; the writer is the only one assigning
// them and the flock keeps other processes out.
func (w *writeTx) apply(ctx context.Context, o *op, rev int64) (Event, error) {
	cur, found, err := w.latest(ctx, o.key)
	if err != nil {
		return Event{}, err
	}
	live := found && !cur.deleted
	if o.kind == opCreate {
		if live {
			return Event{}, ErrExists
		}
		var prev int64
		if found {
			prev = cur.id // the tombstone this create follows
		}
		if _, err := w.insertStmt.ExecContext(ctx, rev, o.key, 1, 0, rev, prev, o.value); err != nil {
			return Event{}, err
		}
		return Event{Type: Added, KV: KeyValue{Key: o.key, Value: o.value, CreateRevision: rev, ModRevision: rev}}, nil
	}
	if !live {
		return Event{}, ErrNotFound
	}
	if o.expected != 0 && o.expected != cur.id {
		return Event{}, ErrConflict
	}
	prevKV := &KeyValue{Key: o.key, Value: cur.value, CreateRevision: cur.createRev, ModRevision: cur.id}
	if o.kind == opDelete {
		// The tombstone keeps the last value: a DELETED event carries it.
		if _, err := w.insertStmt.ExecContext(ctx, rev, o.key, 0, 1, cur.createRev, cur.id, cur.value); err != nil {
			return Event{}, err
		}
		return Event{Type: Deleted, KV: KeyValue{Key: o.key, Value: cur.value, CreateRevision: cur.createRev, ModRevision: rev}, PrevKV: prevKV}, nil
	}
	if _, err := w.insertStmt.ExecContext(ctx, rev, o.key, 0, 0, cur.createRev, cur.id, o.value); err != nil {
		return Event{}, err
	}
	return Event{Type: Modified, KV: KeyValue{Key: o.key, Value: o.value, CreateRevision: cur.createRev, ModRevision: rev}, PrevKV: prevKV}, nil
}
