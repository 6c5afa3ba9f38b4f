package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func testConfig(t testing.TB) Config {
	return Config{
		Path:            filepath.Join(t.TempDir(), "state.db"),
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		CompactInterval: -1, // tests call Compact themselves
	}
}

func openStore(t testing.TB, cfg Config) *SQLite {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB) *SQLite { return openStore(t, testConfig(t)) }

func mustCreate(t testing.TB, s Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Create(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return rev
}

func TestCRUD(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		s := newStore(t)
		r1 := mustCreate(t, s, "/a/x", "v1")
		kv, err := s.Get(ctx, "/a/x")
		if err != nil || string(kv.Value) != "v1" || kv.ModRevision != r1 || kv.CreateRevision != r1 {
			t.Fatalf("Get after create = %+v, %v; want v1 at %d", kv, err, r1)
		}
		r2, err := s.Update(ctx, "/a/x", []byte("v2"), r1)
		if err != nil || r2 <= r1 {
			t.Fatalf("Update = %d, %v; want a revision > %d", r2, err, r1)
		}
		kv, _ = s.Get(ctx, "/a/x")
		if string(kv.Value) != "v2" || kv.ModRevision != r2 || kv.CreateRevision != r1 {
			t.Fatalf("Get after update = %+v", kv)
		}
		r3, err := s.Update(ctx, "/a/x", []byte("v3"), 0)
		if err != nil || r3 <= r2 {
			t.Fatalf("unconditional Update = %d, %v", r3, err)
		}
		del, err := s.Delete(ctx, "/a/x", r3)
		if err != nil || string(del.Value) != "v3" || del.ModRevision <= r3 || del.CreateRevision != r1 {
			t.Fatalf("Delete = %+v, %v", del, err)
		}
		if _, err := s.Get(ctx, "/a/x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after delete: %v, want ErrNotFound", err)
		}
		// A key can live again after delete; its new life has a new CreateRevision.
		r5 := mustCreate(t, s, "/a/x", "again")
		kv, _ = s.Get(ctx, "/a/x")
		if kv.CreateRevision != r5 || string(kv.Value) != "again" {
			t.Fatalf("Get after re-create = %+v, want created at %d", kv, r5)
		}
		if cur, _ := s.CurrentRevision(ctx); cur != r5 {
			t.Fatalf("CurrentRevision = %d, want %d", cur, r5)
		}
		// Empty values are values.
		mustCreate(t, s, "/a/empty", "")
		if kv, err := s.Get(ctx, "/a/empty"); err != nil || len(kv.Value) != 0 {
			t.Fatalf("Get empty = %+v, %v", kv, err)
		}
		if _, err := s.Delete(ctx, "/a/empty", 0); err != nil {
			t.Fatalf("Delete empty: %v", err)
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		s := newStore(t)
		mustCreate(t, s, "/k", "1")
		if _, err := s.Create(ctx, "/k", []byte("2")); !errors.Is(err, ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		if kv, _ := s.Get(ctx, "/k"); string(kv.Value) != "1" {
			t.Fatalf("value changed by failed create: %q", kv.Value)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s := newStore(t)
		r1 := mustCreate(t, s, "/k", "1")
		if _, err := s.Update(ctx, "/k", []byte("2"), r1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, "/k", []byte("3"), r1); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale Update: %v, want ErrConflict", err)
		}
		if _, err := s.Delete(ctx, "/k", r1); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale Delete: %v, want ErrConflict", err)
		}
		if kv, _ := s.Get(ctx, "/k"); string(kv.Value) != "2" {
			t.Fatalf("value = %q, want 2", kv.Value)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "/none"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if _, err := s.Update(ctx, "/none", []byte("x"), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update: %v", err)
		}
		if _, err := s.Delete(ctx, "/none", 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Delete: %v", err)
		}
		before, _ := s.CurrentRevision(ctx)
		if before != 1 {
			t.Fatalf("failed writes used revisions: current = %d", before)
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		s := newStore(t)
		s.Close()
		if _, err := s.Create(ctx, "/k", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("Create after Close: %v", err)
		}
		if _, err := s.Watch(ctx, "/", 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Watch after Close: %v", err)
		}
	})
}

func TestValueIsCopied(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	ch, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("orig")
	if _, err := s.Create(ctx, "/k", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXX")
	if e := <-ch; string(e.KV.Value) != "orig" {
		t.Fatalf("watcher saw %q after the caller reused its buffer", e.KV.Value)
	}
}

func TestRacingWriters(t *testing.T) {
	ctx := context.Background()
	const n = 32
	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		r := mustCreate(t, s, "/k", "0")
		errs := race(n, func(i int) error {
			_, err := s.Update(ctx, "/k", []byte(fmt.Sprint(i)), r)
			return err
		})
		checkOneWinner(t, errs, ErrConflict)
	})
	t.Run("Create", func(t *testing.T) {
		s := newStore(t)
		errs := race(n, func(i int) error {
			_, err := s.Create(ctx, "/k", []byte(fmt.Sprint(i)))
			return err
		})
		checkOneWinner(t, errs, ErrExists)
	})
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		r := mustCreate(t, s, "/k", "0")
		errs := race(n, func(i int) error {
			_, err := s.Delete(ctx, "/k", r)
			return err
		})
		// Losers see either the winner's delete as a conflict or the key gone.
		var wins int
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d deletes won, want 1", wins)
		}
	})
}

func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func checkOneWinner(t *testing.T, errs []error, loser error) {
	t.Helper()
	var wins int
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, loser):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "/pods/b", "b1")
	mustCreate(t, s, "/pods/a", "a1")
	mustCreate(t, s, "/podsx/z", "other prefix")
	kvs, r1, err := s.List(ctx, "/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := keysValues(kvs); got != "/pods/a=a1 /pods/b=b1" || r1 != 4 {
		t.Fatalf("List = %q at %d", got, r1)
	}
	if _, err := s.Update(ctx, "/pods/a", []byte("a2"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "/pods/b", 0); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/pods/c", "c1")

	kvs, now, err := s.List(ctx, "/pods/", 0)
	if err != nil || now != 7 {
		t.Fatalf("List now: rev %d, %v", now, err)
	}
	if got := keysValues(kvs); got != "/pods/a=a2 /pods/c=c1" {
		t.Fatalf("List now = %q", got)
	}
	// The past is still there, exactly as it was.
	kvs, at, err := s.List(ctx, "/pods/", r1)
	if err != nil || at != r1 {
		t.Fatalf("List at %d: rev %d, %v", r1, at, err)
	}
	if got := keysValues(kvs); got != "/pods/a=a1 /pods/b=b1" {
		t.Fatalf("List at %d = %q", r1, got)
	}
	kvs, _, _ = s.List(ctx, "/pods/", 5)
	if got := keysValues(kvs); got != "/pods/a=a2 /pods/b=b1" {
		t.Fatalf("List at 4 = %q", got)
	}
	kvs, _, _ = s.List(ctx, "", 0)
	if len(kvs) != 3 {
		t.Fatalf("List everything = %q", keysValues(kvs))
	}
	if _, _, err := s.List(ctx, "/pods/", now+1); !errors.Is(err, ErrFuture) {
		t.Fatalf("List in the future: %v, want ErrFuture", err)
	}
}

func keysValues(kvs []KeyValue) string {
	var out string
	for i, kv := range kvs {
		if i > 0 {
			out += " "
		}
		out += kv.Key + "=" + string(kv.Value)
	}
	return out
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"": "", "/a/": "/a0", "a\xff": "b", "\xff\xff": ""} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

// recv reads n events or fails after a timeout.
func recv(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	var evs []Event
	timeout := time.After(10 * time.Second)
	for len(evs) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(evs), n)
			}
			evs = append(evs, e)
		case <-timeout:
			t.Fatalf("got %d of %d events in 10s", len(evs), n)
		}
	}
	return evs
}

func TestWatchEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStore(t)
	r0 := mustCreate(t, s, "/first", "")
	ch, err := s.Watch(ctx, "/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustCreate(t, s, "/pods/a", "1")
	mustCreate(t, s, "/other", "x")
	r2, _ := s.Update(ctx, "/pods/a", []byte("2"), r1)
	del, _ := s.Delete(ctx, "/pods/a", r2)
	evs := recv(t, ch, 3)
	check := func(evs []Event) {
		t.Helper()
		want := []struct {
			typ       EventType
			rev       int64
			val, prev string
		}{{Added, r1, "1", ""}, {Modified, r2, "2", "1"}, {Deleted, del.ModRevision, "2", "2"}}
		for i, w := range want {
			e := evs[i]
			if e.Type != w.typ || e.KV.ModRevision != w.rev || string(e.KV.Value) != w.val || e.KV.CreateRevision != r1 {
				t.Fatalf("event %d = %v %+v, want %v at %d value %q", i, e.Type, e.KV, w.typ, w.rev, w.val)
			}
			if (e.PrevKV == nil) != (w.prev == "") || (e.PrevKV != nil && string(e.PrevKV.Value) != w.prev) {
				t.Fatalf("event %d PrevKV = %+v, want %q", i, e.PrevKV, w.prev)
			}
		}
	}
	check(evs)
	// The same events replayed from SQLite look the same as live ones.
	replayed, err := s.Watch(ctx, "/pods/", r0)
	if err != nil {
		t.Fatal(err)
	}
	check(recv(t, replayed, 3))

	// Cancelling the context closes the channel.
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch not closed after cancel")
	}
}

// TestWatchFromListRevision is the list-then-watch pattern of every informer: writers
// keep going while a client lists and then watches from the list's revision; list plus
// events must be exactly the history, each event once, in order.
func TestWatchFromListRevision(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.WatchBuffer = 1 << 16 // this test is about gaps, not about slow readers
	s := openStore(t, cfg)
	const writers = 8
	// History older than one replay page before the list, to exercise paging.
	for i := range replayPage + 50 {
		mustCreate(t, s, fmt.Sprintf("/w/old-%d", i), "x")
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("/w/%d-%d", w, i)
				rev, err := s.Create(ctx, key, []byte("1"))
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := s.Update(ctx, key, []byte("2"), rev); err != nil {
						t.Error(err)
						return
					}
				}
				if i%5 == 0 {
					if _, err := s.Delete(ctx, key, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	// List while the writers are mid-way.
	for i := 0; i < 1000; i++ {
		if cur, _ := s.CurrentRevision(ctx); cur >= replayPage+50+200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	kvs, listRev, err := s.List(ctx, "/w/", 0)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "/w/", listRev)
	if err != nil {
		t.Fatal(err)
	}
	// A second watch from the very beginning replays pages of history while live
	// events queue behind them, then switches to live.
	fromStart, err := s.Watch(ctx, "/w/", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Read as fast as events come, like an informer, so the watcher is not dropped.
	collect := func(ch <-chan Event) chan []Event {
		got := make(chan []Event, 1)
		go func() {
			var evs []Event
			for e := range ch {
				evs = append(evs, e)
				if e.KV.Key == "/w/~end" {
					break
				}
			}
			got <- evs
		}()
		return got
	}
	got, gotAll := collect(ch), collect(fromStart)
	// Keep writing well past the list, then stop.
	for i := 0; i < 10000; i++ {
		if cur, _ := s.CurrentRevision(ctx); cur >= listRev+1000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	end := mustCreate(t, s, "/w/~end", "")
	final, _, err := s.List(ctx, "/w/", end)
	if err != nil {
		t.Fatal(err)
	}

	state := map[string]string{}
	for _, kv := range kvs {
		state[kv.Key] = string(kv.Value)
	}
	if end-listRev < 1000 {
		t.Fatalf("only %d writes after the list; the test needs writers racing the list", end-listRev)
	}
	var evs []Event
	select {
	case evs = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not reach the end marker in 10s")
	}
	last := listRev
	for _, e := range evs {
		if e.KV.ModRevision <= last {
			t.Fatalf("event at %d after %d: repeated or out of order", e.KV.ModRevision, last)
		}
		switch e.Type {
		case Added:
			if _, ok := state[e.KV.Key]; ok {
				t.Fatalf("ADDED %s which exists", e.KV.Key)
			}
			state[e.KV.Key] = string(e.KV.Value)
		case Modified:
			if _, ok := state[e.KV.Key]; !ok {
				t.Fatalf("MODIFIED %s which does not exist", e.KV.Key)
			}
			state[e.KV.Key] = string(e.KV.Value)
		case Deleted:
			if _, ok := state[e.KV.Key]; !ok {
				t.Fatalf("DELETED %s which does not exist", e.KV.Key)
			}
			delete(state, e.KV.Key)
		}
		last = e.KV.ModRevision
	}
	if len(state) != len(final) {
		t.Fatalf("list+watch has %d keys, store has %d", len(state), len(final))
	}
	for _, kv := range final {
		if state[kv.Key] != string(kv.Value) {
			t.Fatalf("%s: list+watch says %q, store says %q", kv.Key, state[kv.Key], kv.Value)
		}
	}
	// Every revision under /w/ is accounted for: with only /w/ keys written, revisions
	// after the list are contiguous.
	if last != end {
		t.Fatalf("watch ended at %d, store at %d", last, end)
	}
	// Only /w/ keys were written, so the watch from the start saw every revision.
	var all []Event
	select {
	case all = <-gotAll:
	case <-time.After(10 * time.Second):
		t.Fatal("watch from the start did not reach the end marker in 10s")
	}
	for i, e := range all {
		if e.KV.ModRevision != int64(i)+2 {
			t.Fatalf("watch from the start: event %d has revision %d, want %d", i, e.KV.ModRevision, i+2)
		}
	}
	if len(all) == 0 || all[len(all)-1].KV.ModRevision != end {
		t.Fatalf("watch from the start got %d events, not up to %d", len(all), end)
	}
}

// An empty store still lists at a real revision, so a write between the list and the
// watch is not lost (a list at "0" followed by a watch from "now" would lose it).
func TestEmptyListThenWatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	kvs, rev, err := s.List(ctx, "/", 0)
	if err != nil || len(kvs) != 0 || rev == 0 {
		t.Fatalf("List of empty store = %d items at %d, %v; want none at a non-zero revision", len(kvs), rev, err)
	}
	r := mustCreate(t, s, "/between", "")
	ch, err := s.Watch(ctx, "/", rev)
	if err != nil {
		t.Fatal(err)
	}
	if e := recv(t, ch, 1)[0]; e.KV.ModRevision != r || e.Type != Added {
		t.Fatalf("watch from %d got %v at %d, want ADDED at %d", rev, e.Type, e.KV.ModRevision, r)
	}
}

// TestCreateOwned: a value handed over reaches watchers as is (no copy), while a plain
// Create's value is copied, so changing the caller's buffer afterwards changes nothing
// stored or sent.
func TestCreateOwned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStore(t)
	ch, err := s.Watch(ctx, "/o/", 0)
	if err != nil {
		t.Fatal(err)
	}
	owned, copied := []byte("owned"), []byte("copied")
	rev, err := s.CreateOwned(ctx, "/o/a", owned)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "/o/b", "")
	if _, err := s.Create(ctx, "/o/c", copied); err != nil {
		t.Fatal(err)
	}
	copied[0] = 'X'
	var evs []Event
	for len(evs) < 3 {
		select {
		case ev := <-ch:
			evs = append(evs, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of 3 events", len(evs))
		}
	}
	if a := evs[0].KV; a.ModRevision != rev || &a.Value[0] != &owned[0] {
		t.Errorf("the owned value's event = %+v, want the very slice handed over at %d", a, rev)
	}
	if c := evs[2].KV; string(c.Value) != "copied" {
		t.Errorf("the copied value's event = %q, want it as it was at Create", c.Value)
	}
	if kv, err := s.Get(ctx, "/o/a"); err != nil || string(kv.Value) != "owned" {
		t.Errorf("Get owned = %+v, %v", kv, err)
	}
}
