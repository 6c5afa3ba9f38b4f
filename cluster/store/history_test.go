package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"webkube/db/migrations"
)

// TestCompaction writes a random history, remembers what every List and Watch said
// before compacting, and checks that after compaction everything at or after the
// compacted revision reads exactly the same while older revisions are ErrCompacted.
func TestCompaction(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.KeepRevisions = 40
	cfg.CompactBatch = 7
	s := openStore(t, cfg)

	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"/c/a", "/c/b", "/c/c", "/c/d", "/d/x"}
	for i := 0; i < 300; i++ {
		key := keys[rng.IntN(len(keys))]
		val := []byte(fmt.Sprint(i))
		_, err := s.Create(ctx, key, val)
		if errors.Is(err, ErrExists) {
			if rng.IntN(3) == 0 {
				_, err = s.Delete(ctx, key, 0)
			} else {
				_, err = s.Update(ctx, key, val, 0)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "/c/forever", "never touched again") // a live key older than the window
	for i := 0; i < 60; i++ {
		if _, err := s.Update(ctx, "/c/a", []byte(fmt.Sprint("late", i)), 0); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		mustCreate(t, s, fmt.Sprint("/d/late-", i), "")
	}
	cur, _ := s.CurrentRevision(ctx)
	lists := map[int64][]KeyValue{}
	for r := int64(1); r <= cur; r++ {
		kvs, _, err := s.List(ctx, "/c/", r)
		if err != nil {
			t.Fatal(err)
		}
		lists[r] = kvs
	}
	target := cur - cfg.KeepRevisions
	before := readAll(t, s, "/c/", target)
	rowsBefore := countRows(t, s)

	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.CompactedRevision(); got != target {
		t.Fatalf("CompactedRevision = %d, want %d", got, target)
	}
	if rowsAfter := countRows(t, s); rowsAfter >= rowsBefore-200 {
		t.Fatalf("compaction left %d of %d rows", rowsAfter, rowsBefore)
	}
	for r := target; r <= cur; r++ {
		kvs, _, err := s.List(ctx, "/c/", r)
		if err != nil {
			t.Fatalf("List at %d: %v", r, err)
		}
		if !reflect.DeepEqual(kvs, lists[r]) {
			t.Fatalf("List at %d changed by compaction:\n got %s\nwant %s", r, keysValues(kvs), keysValues(lists[r]))
		}
	}
	if after := readAll(t, s, "/c/", target); !reflect.DeepEqual(after, before) {
		t.Fatalf("watch from the compacted revision changed:\n got %v\nwant %v", after, before)
	}
	if _, _, err := s.List(ctx, "/c/", target-1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("List before compacted: %v, want ErrCompacted", err)
	}
	if _, err := s.Watch(ctx, "/c/", target-1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Watch before compacted: %v, want ErrCompacted", err)
	}
	if kv, err := s.Get(ctx, "/c/forever"); err != nil || string(kv.Value) != "never touched again" {
		t.Fatalf("live key lost by compaction: %+v, %v", kv, err)
	}
	// Keys whose tombstones were compacted can be created again.
	for _, k := range keys {
		if _, err := s.Get(ctx, k); errors.Is(err, ErrNotFound) {
			mustCreate(t, s, k, "reborn")
		}
	}
	// The compacted revision survives a restart.
	s.Close()
	s2 := openStore(t, cfg)
	if got := s2.CompactedRevision(); got != target {
		t.Fatalf("CompactedRevision after restart = %d, want %d", got, target)
	}
	if _, _, err := s2.List(ctx, "/c/", target-1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("List before compacted after restart: %v", err)
	}
}

// readAll watches prefix from rev and returns every event up to the current revision.
func readAll(t *testing.T, s *SQLite, prefix string, rev int64) []Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := s.Watch(ctx, prefix, rev)
	if err != nil {
		t.Fatalf("Watch %s from %d: %v", prefix, rev, err)
	}
	cur, _ := s.CurrentRevision(ctx)
	var evs []Event
	for {
		// The newest write may be outside prefix: stop once nothing more can come.
		if len(evs) > 0 && evs[len(evs)-1].KV.ModRevision == cur {
			return evs
		}
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d events", len(evs))
			}
			evs = append(evs, e)
		case <-time.After(200 * time.Millisecond):
			return evs
		}
	}
}

func countRows(t *testing.T, s *SQLite) int {
	t.Helper()
	var n int
	if err := s.readDB.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompactLoop(t *testing.T) {
	cfg := testConfig(t)
	cfg.KeepRevisions = 10
	cfg.CompactInterval = 10 * time.Millisecond
	s := openStore(t, cfg)
	for i := range 50 {
		mustCreate(t, s, fmt.Sprint("/k", i), "")
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.CompactedRevision() != 41 { // 50 writes after empty revision 1, keep 10
		if time.Now().After(deadline) {
			t.Fatalf("CompactedRevision = %d after 5s, want 41", s.CompactedRevision())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlowWatcher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.WatchBuffer = 10
	s := openStore(t, cfg)
	slow, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Writers finish even though nobody reads the slow watcher.
	done := make(chan error)
	go func() {
		for i := range 1000 {
			if _, err := s.Create(ctx, fmt.Sprint("/k", i), []byte("x")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writers blocked by a slow watcher")
	}
	// The slow one gets a gap-free prefix of history, then its channel is closed.
	last := int64(1) // the empty store
	for e := range slow {
		if e.KV.ModRevision != last+1 {
			t.Fatalf("slow watcher got revision %d after %d", e.KV.ModRevision, last)
		}
		last = e.KV.ModRevision
	}
	if last >= 1001 || last == 1 {
		t.Fatalf("slow watcher read up to %d before its channel closed; want a prefix", last)
	}
	// Watching again from where it stopped delivers the rest.
	again, err := s.Watch(ctx, "/", last)
	if err != nil {
		t.Fatal(err)
	}
	evs := recv(t, again, int(1001-last))
	if evs[0].KV.ModRevision != last+1 || evs[len(evs)-1].KV.ModRevision != 1001 {
		t.Fatalf("re-watch got %d..%d", evs[0].KV.ModRevision, evs[len(evs)-1].KV.ModRevision)
	}
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustCreate(t, s, "/k", "v")
	if _, err := New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "another webkube") {
		t.Fatalf("second open of the same file: %v, want a lock error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	if cur, _ := s.CurrentRevision(ctx); cur != r1 {
		t.Fatalf("CurrentRevision after restart = %d, want %d", cur, r1)
	}
	kv, err := s.Get(ctx, "/k")
	if err != nil || string(kv.Value) != "v" {
		t.Fatalf("Get after restart: %+v, %v", kv, err)
	}
	// A client that saw revision r1-1 before the restart watches on without a gap.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "/", r1-1)
	if err != nil {
		t.Fatal(err)
	}
	r2 := mustCreate(t, s, "/k2", "v")
	if r2 != r1+1 {
		t.Fatalf("revision after restart = %d, want %d", r2, r1+1)
	}
	if evs := recv(t, ch, 2); evs[0].KV.ModRevision != r1 || evs[1].KV.ModRevision != r2 {
		t.Fatalf("watch across restart got %d, %d; want %d, %d", evs[0].KV.ModRevision, evs[1].KV.ModRevision, r1, r2)
	}
	var n int
	if err := s.readDB.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != shipped(t) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, shipped(t))
	}
}

// shipped is the number of migrations in db/migrations.
func shipped(t *testing.T) int {
	ms, err := loadMigrations(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite3", cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (999, '999_future.sql', 'later')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = New(ctx, cfg)
	if err == nil {
		t.Fatal("opened a database from a newer webkube")
	}
	for _, want := range []string{cfg.Path, "version 999", fmt.Sprint("up to ", shipped(t)), "newer webkube"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMigrationsInOrder(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	db, err := sql.Open("sqlite3", cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := []migration{
		{1, "001_a.sql", `CREATE TABLE a (x INTEGER)`},
		{2, "002_b.sql", `INSERT INTO a VALUES (1); CREATE TABLE b (y INTEGER)`},
		{3, "003_bad.sql", `INSERT INTO b VALUES (1); THIS IS NOT SQL`},
	}
	cfg.setDefaults()
	err = applyMigrations(ctx, db, cfg.Path, ms, cfg.Clock, cfg.Logger)
	if err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("bad migration: %v, want an error naming version 3", err)
	}
	// 1 and 2 are applied and recorded; 3 left nothing behind.
	var n, rows int
	db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	db.QueryRow(`SELECT COUNT(*) FROM b`).Scan(&rows)
	if n != 2 || rows != 0 {
		t.Fatalf("after a failed migration: %d recorded, %d rows in b; want 2 and 0", n, rows)
	}
	// Fixed, it applies; applying again changes nothing.
	ms[2].sql = `INSERT INTO b VALUES (1)`
	for range 2 {
		if err := applyMigrations(ctx, db, cfg.Path, ms, cfg.Clock, cfg.Logger); err != nil {
			t.Fatal(err)
		}
	}
	db.QueryRow(`SELECT COUNT(*) FROM b`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("b has %d rows, want 1", rows)
	}
}

// TestCompactionDuringReplay compacts while a watch is replaying old history: the
// watch delivers a gap-free prefix, then closes; watching on from there is ErrCompacted.
func TestCompactionDuringReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.KeepRevisions = 10
	s := openStore(t, cfg)
	for i := range 4 * replayPage {
		mustCreate(t, s, fmt.Sprint("/k/", i), "")
		if i%2 == 0 {
			if _, err := s.Update(ctx, fmt.Sprint("/k/", i), []byte("u"), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	ch, err := s.Watch(ctx, "/k/", 2)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the watch is now blocked, a page in
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	last := int64(2)
	for e := range ch {
		if e.KV.ModRevision != last+1 {
			t.Fatalf("revision %d after %d", e.KV.ModRevision, last)
		}
		last = e.KV.ModRevision
	}
	if cur, _ := s.CurrentRevision(ctx); last >= cur-cfg.KeepRevisions {
		t.Fatalf("watch read up to %d of %d despite compaction to %d", last, cur, s.CompactedRevision())
	}
	if _, err := s.Watch(ctx, "/k/", last); !errors.Is(err, ErrCompacted) {
		t.Fatalf("re-watch from %d: %v, want ErrCompacted", last, err)
	}
}

func TestWatchFutureAndClose(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "/a", "") // revision 2
	ch, err := s.Watch(ctx, "/", 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		mustCreate(t, s, fmt.Sprint("/b", i), "")
	}
	evs := recv(t, ch, 3) // revisions 6, 7, 8
	if evs[0].KV.ModRevision != 6 || evs[2].KV.ModRevision != 8 {
		t.Fatalf("watch from the future got %d..%d, want 6..8", evs[0].KV.ModRevision, evs[2].KV.ModRevision)
	}
	// An unread watch ends when the store closes.
	unread, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		mustCreate(t, s, fmt.Sprint("/c", i), "")
	}
	s.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-unread:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("watch not closed after Close")
		}
	}
}

// TestWALBounded: under writes that never pause, checkpoints still rewind the WAL.
// (A checkpointer goroutine beside the writer let it grow to ~1 GB for such writes.)
func TestWALBounded(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	value := make([]byte, 1024)
	// The largest the WAL gets while the writes go on.
	var maxWAL int64
	sampled := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if fi, err := os.Stat(cfg.Path + "-wal"); err == nil {
				maxWAL = max(maxWAL, fi.Size())
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1500 {
				if _, err := s.Create(context.Background(), fmt.Sprint("/x/", g, "-", i), value); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	// Never rewound, these writes make a WAL of about 400 MB; rewound, it stays at
	// what is written during one checkpoint, 30-60 MB on this 2-core machine when busy.
	if maxWAL > 128<<20 {
		t.Fatalf("WAL grew to %d MB during 24k writes of 1 KiB", maxWAL>>20)
	}
	t.Logf("WAL at most %d MB", maxWAL>>20)
}

// TestMigrationToWriterRevisions opens a store written before migration 004 (kv with
// AUTOINCREMENT): its rows, current revision and history survive, the next write
// follows on, and kv is left without AUTOINCREMENT and the unique index.
func TestMigrationToWriterRevisions(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.setDefaults()
	ms, err := loadMigrations(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, db, cfg.Path, ms[:3], cfg.Clock, cfg.Logger); err != nil {
		t.Fatal(err)
	}
	// As the writer before 004 wrote them: /a created at 2 and updated at 3, /b at 4.
	if _, err := db.Exec(`INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) VALUES
		(2, '/a', 1, 0, 2, 0, 'a1'), (3, '/a', 0, 0, 2, 2, 'a2'), (4, '/b', 1, 0, 4, 0, 'b')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openStore(t, cfg)
	if cur, err := s.CurrentRevision(ctx); err != nil || cur != 4 {
		t.Fatalf("CurrentRevision after migrating = %d, %v; want 4", cur, err)
	}
	if kvs, rev, err := s.List(ctx, "/", 3); err != nil || rev != 3 || len(kvs) != 1 || string(kvs[0].Value) != "a2" {
		t.Fatalf("List at 3 after migrating: %+v, %d, %v", kvs, rev, err)
	}
	if rev := mustCreate(t, s, "/c", "c"); rev != 5 {
		t.Fatalf("first write after migrating got revision %d, want 5", rev)
	}
	var schema string
	if err := s.readDB.QueryRow(`SELECT group_concat(sql, ';') FROM sqlite_master WHERE tbl_name = 'kv'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(schema, "AUTOINCREMENT") || strings.Contains(schema, "kv_name_prev_revision") || !strings.Contains(schema, "kv_name_id") {
		t.Fatalf("kv after migrating: %s", schema)
	}
}
