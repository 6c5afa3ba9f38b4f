package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// replayPage is how many rows a watch replays per read transaction, so a watch from far
// back neither holds a snapshot open for long nor loads all history into memory.
const replayPage = 500

// Watch streams every event under prefix with a revision greater than revision.
//
// It subscribes to live events first and notes the last revision published at that
// moment (last); the subscription passes on only events above max(revision, last).
// Rows in (revision, last] are replayed from SQLite. Every event above last is
// published after the subscription exists, and every event at or below it was
// committed before, so the two parts meet without a gap or a repeat.
//
// A watch that needs no replay (the usual case: from now, or from a list just made)
// is fed by the writer directly, with no goroutine of its own. One that replays has a
// goroutine that sends the replay, then the live events that queued meanwhile, and
// then hands the channel over to the writer.
//
// Live events are shared by every watcher: treat KV.Value and PrevKV as read-only.
func (s *SQLite) Watch(ctx context.Context, prefix string, revision int64) (<-chan Event, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	sub, last := s.bus.subscribe(prefix, revision, s.cfg.WatchBuffer)
	if sub == nil {
		return nil, ErrClosed
	}
	if revision == 0 || revision >= last {
		if c := s.compacted.Load(); revision != 0 && revision < c {
			s.bus.unsubscribe(sub)
			return nil, fmt.Errorf("%w: revision %d is older than %d", ErrCompacted, revision, c)
		}
		context.AfterFunc(ctx, func() { s.bus.unsubscribe(sub) })
		return sub.ch, nil
	}
	page, pos, more, err := s.replay(ctx, prefix, revision, last)
	if err != nil {
		s.bus.unsubscribe(sub)
		return nil, err
	}
	context.AfterFunc(ctx, func() { s.bus.unsubscribe(sub) })
	queued := sub.ch // live events wait here until the replay is sent
	out := make(chan Event, s.cfg.WatchBuffer)
	go func() {
		handedOver := false
		defer func() {
			if !handedOver {
				s.bus.unsubscribe(sub)
				close(out)
			}
		}()
		send := func(e Event) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			case <-s.quit:
				return false // store closed: don't wait on a reader that left
			}
		}
		for {
			for _, e := range page {
				if !send(e) {
					return
				}
			}
			if !more {
				break
			}
			var err error
			page, pos, more, err = s.replay(ctx, prefix, pos, last)
			if err != nil {
				// Compacted past us, or the store closed: end the watch; the client
				// watches again from its last revision and is told why.
				if !errors.Is(err, context.Canceled) {
					s.log.Debug("watch replay stopped", "prefix", prefix, "at", pos, "err", err)
				}
				return
			}
		}
		for {
			select {
			case e, ok := <-queued:
				if !ok {
					return // fell behind, or the store closed
				}
				if !send(e) {
					return
				}
			case <-ctx.Done():
				return
			default:
				// Nothing queued: from here the writer feeds out itself. If events
				// arrived meanwhile, or the subscription is gone, the loop goes on.
				if s.bus.handOver(sub, out) {
					handedOver = true
					return
				}
			}
		}
	}()
	return out, nil
}

// replay reads up to replayPage rows under prefix with after < id <= upto, in one
// snapshot that also proves after is not compacted. It returns their events, the id to
// continue after, and whether there may be more.
func (s *SQLite) replay(ctx context.Context, prefix string, after, upto int64) ([]Event, int64, bool, error) {
	tx, err := s.readDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, after, false, fmt.Errorf("store: watch %s: %w", prefix, err)
	}
	defer tx.Rollback()
	if _, err := checkRevision(ctx, tx, after); err != nil {
		return nil, after, false, err
	}
	cond, args := nameRange("k.name", prefix)
	// NOT INDEXED: walk the id range (the rowid), not every revision of every key
	// under the prefix.
	q := `SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.value, p.id, p.value
		FROM kv AS k NOT INDEXED LEFT JOIN kv AS p ON p.id = k.prev_revision
		WHERE k.id > ? AND k.id <= ? AND ` + cond + ` ORDER BY k.id LIMIT ?`
	rows, err := tx.QueryContext(ctx, q, append(append([]any{after, upto}, args...), replayPage)...)
	if err != nil {
		return nil, after, false, fmt.Errorf("store: watch %s: %w", prefix, err)
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var (
			id, createRev    int64
			name             string
			created, deleted bool
			value, prevValue []byte
			prevID           *int64
		)
		if err := rows.Scan(&id, &name, &created, &deleted, &createRev, &value, &prevID, &prevValue); err != nil {
			return nil, after, false, fmt.Errorf("store: watch %s: %w", prefix, err)
		}
		ev := Event{Type: Modified, KV: KeyValue{Key: name, Value: value, CreateRevision: createRev, ModRevision: id}}
		switch {
		case deleted:
			ev.Type = Deleted
		case created:
			ev.Type = Added
		}
		if prevID != nil && ev.Type != Added {
			ev.PrevKV = &KeyValue{Key: name, Value: prevValue, CreateRevision: createRev, ModRevision: *prevID}
		}
		evs = append(evs, ev)
		after = id
	}
	if err := rows.Err(); err != nil {
		return nil, after, false, fmt.Errorf("store: watch %s: %w", prefix, err)
	}
	return evs, after, len(evs) == replayPage, nil
}

// bus fans committed events out to watchers. publish never blocks: a watcher whose
// buffer is full is dropped (its channel closed) so one slow client cannot stall writes.
type bus struct {
	mu     sync.Mutex
	subs   map[*sub]struct{}
	last   int64 // revision of the last event published
	closed bool
}

type sub struct {
	prefix string
	after  int64      // only events above this revision are passed on
	ch     chan Event // the watcher's channel, or its queue while it replays
}

func newBus(last int64) *bus {
	return &bus{subs: map[*sub]struct{}{}, last: last}
}

// subscribe returns a new subscription for events under prefix above revision (0 =
// from now) and the last revision published before it, or nil if the bus is closed.
func (b *bus) subscribe(prefix string, revision int64, buffer int) (*sub, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, 0
	}
	s := &sub{prefix: prefix, after: max(revision, b.last), ch: make(chan Event, buffer)}
	b.subs[s] = struct{}{}
	return s, b.last
}

// handOver makes out the channel s's events go to, if s is still subscribed and its
// queue is empty; otherwise the caller still has queued events to pass on (or none
// will come).
func (b *bus) handOver(s *sub, out chan Event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; !ok || len(s.ch) > 0 {
		return false
	}
	s.ch = out
	return true
}

func (b *bus) unsubscribe(s *sub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// publish hands events, in revision order, to every matching subscriber.
func (b *bus) publish(events []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
	events:
		for _, e := range events {
			if e.KV.ModRevision <= s.after || !strings.HasPrefix(e.KV.Key, s.prefix) {
				continue
			}
			select {
			case s.ch <- e:
			default:
				delete(b.subs, s)
				close(s.ch)
				break events
			}
		}
	}
	b.last = events[len(events)-1].KV.ModRevision
}

func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}
