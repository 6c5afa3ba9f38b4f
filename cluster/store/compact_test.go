package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// waitCompacted polls until the background compactor has reached want.
func waitCompacted(t *testing.T, s *SQLite, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.CompactedRevision() != want {
		if time.Now().After(deadline) {
			t.Fatalf("CompactedRevision = %d, want %d", s.CompactedRevision(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeN(t *testing.T, s *SQLite, n int) int64 {
	t.Helper()
	var rev int64
	for range n {
		var err error
		if rev, err = s.Update(context.Background(), "/k", []byte(fmt.Sprint(rev)), 0); err == ErrNotFound {
			rev = mustCreate(t, s, "/k", "")
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return rev
}

func rows(t *testing.T, s *SQLite) int {
	t.Helper()
	var n int
	if err := s.readDB.QueryRow(`SELECT COUNT(*) FROM kv`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCompactionSurvivesRestarts: webkube restarted every 4 minutes with a 5-minute
// compaction interval still compacts, because the due time is kept in the database; and
// a start after a long stop compacts at once.
func TestCompactionSurvivesRestarts(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	cfg := testConfig(t)
	cfg.Clock = clk
	cfg.CompactInterval = 5 * time.Minute
	cfg.KeepRevisions = 10
	cfg.MaxHistoryAge = -1 // revisions only here; see TestCompactionByAge
	var want int64
	for life := range 8 {
		s, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if life == 0 {
			// A database never compacted is overdue: wait for that first (empty) run,
			// so the writes below are not raced by it.
			waitLastCompaction(t, s, t0)
		}
		cur := writeN(t, s, 20)
		clk.Step(4 * time.Minute)
		// Lives start at 0, 4, 8, ... minutes. Compactions run at 0, then when due
		// during a life: at 8 (due 5), 16 (due 13), 24, 32.
		if life%2 == 1 {
			want = cur - cfg.KeepRevisions
		}
		waitCompacted(t, s, want)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur := writeN(t, s, 20)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Stopped for an hour: the next start compacts right away.
	clk.Step(time.Hour)
	s = openStore(t, cfg)
	waitCompacted(t, s, cur-cfg.KeepRevisions)
	t.Logf("after 9 lives of 20 writes each: revision %d, compacted %d, %d rows", cur, s.CompactedRevision(), rows(t, s))
}

// waitLastCompaction polls until the database records a compaction at at.
func waitLastCompaction(t *testing.T, s *SQLite, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ms int64
		if err := s.readDB.QueryRow(`SELECT value FROM meta WHERE key = 'compact_time'`).Scan(&ms); err != nil {
			t.Fatal(err)
		}
		if ms == at.UnixMilli() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("last compaction recorded at %v, want %v", time.UnixMilli(ms).UTC(), at)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCompactionByAge: history older than MaxHistoryAge goes even when there are fewer
// than KeepRevisions revisions, down to the newest MinRevisions; the times revisions
// were reached survive a restart.
func TestCompactionByAge(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(t0)
	cfg := testConfig(t)
	cfg.Clock = clk
	cfg.KeepRevisions = 10000
	cfg.MaxHistoryAge = 10 * time.Minute
	cfg.MinRevisions = 5
	s := openStore(t, cfg)
	step := func(d time.Duration, writes int, want int64) {
		t.Helper()
		clk.Step(d)
		writeN(t, s, writes)
		if err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.CompactedRevision(); got != want {
			t.Fatalf("at +%v: CompactedRevision = %d, want %d", clk.Since(t0), got, want)
		}
	}
	step(0, 20, 0)             // revision 21 at +0
	step(5*time.Minute, 20, 0) // 41 at +5: nothing is 10 minutes old yet
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	step(6*time.Minute, 20, 21) // 61 at +11: what existed at +0 is over 10 minutes old
	step(5*time.Minute, 3, 41)  // 64 at +16: what existed at +5
	step(20*time.Minute, 0, 59) // idle: everything is old, but the newest 5 stay
	if _, _, err := s.List(ctx, "/", 58); err == nil {
		t.Fatal("List at a revision older than the age bound succeeded")
	}
	if _, _, err := s.List(ctx, "/", 59); err != nil {
		t.Fatalf("List at the compacted revision: %v", err)
	}
}
