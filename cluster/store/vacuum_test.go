package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"webkube/internal/eventually"
)

// configMapValue is a ConfigMap as the API server stores it, about 600 bytes.
func configMapValue(i, version int) []byte {
	return []byte(fmt.Sprintf(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-%04d","namespace":"default",`+
		`"uid":"6c1b6a0e-1f0a-4d5e-9a36-%012d","creationTimestamp":"2026-12-04T22:00:00Z",`+
		`"labels":{"app":"settings","tier":"backend"},"annotations":{"version":"%d"}},`+
		`"data":{"LOG_LEVEL":"info","FEATURE_FLAGS":"a,b,c,d","DATABASE_URL":"postgres://db.default.svc:5432/app",`+
		`"CACHE_TTL":"300","GREETING":"hello from configmap %d at version %d, padded to a realistic size ...................."}}`,
		i, i, version, i, version))
}

// write10k writes 1,000 ConfigMaps 10 times each (issue 16's store-size workload).
func write10k(t testing.TB, s *SQLite) {
	ctx := context.Background()
	for v := 0; v < 10; v++ {
		for i := 0; i < 1000; i++ {
			key := fmt.Sprintf("/registry/core/configmaps/default/cm-%04d", i)
			var err error
			if v == 0 {
				_, err = s.Create(ctx, key, configMapValue(i, v))
			} else {
				_, err = s.Update(ctx, key, configMapValue(i, v), 0)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// settledSize checkpoints the WAL into the database (as the checkpointer does when idle)
// and returns the bytes on disk. A TRUNCATE checkpoint that meets the store's own
// checkpointer at work answers busy and leaves the WAL as it was, so it is asked again
// until it has done its work. (In one `make bench`, two BenchmarkStoreSize runs of
// three measured 21.7 MB and the third 6.2: 15.5 MB more, about a WAL kept at
// journal_size_limit.)
func settledSize(t testing.TB, s *SQLite) int64 {
	t.Helper()
	eventually.That(t, 10*time.Second, "a TRUNCATE checkpoint not busy", func() (bool, string) {
		var busy, log, copied int
		if err := s.writeDB.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &copied); err != nil {
			t.Fatal(err)
		}
		return busy == 0, fmt.Sprintf("busy %d, %d frames in the WAL, %d copied", busy, log, copied)
	})
	n, err := s.DiskSize()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Compaction gives the freed pages back: the file shrinks to about what the live
// objects need, where it used to keep its largest size for ever.
func TestCompactionShrinksFile(t *testing.T) {
	cfg := testConfig(t)
	cfg.KeepRevisions, cfg.MinRevisions, cfg.MaxHistoryAge = 1000, 1000, -1
	s := openStore(t, cfg)
	write10k(t, s)
	before := settledSize(t, s)
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := settledSize(t, s)
	var mode int
	if err := s.writeDB.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d (%v), want 2 (INCREMENTAL)", mode, err)
	}
	t.Logf("10k writes: %.1f MB; compacted to the newest 1,000 revisions: %.1f MB", mb(before), mb(after))
	if after > before/3 {
		t.Fatalf("after compaction the store takes %d bytes, before %d: freed pages were not returned", after, before)
	}
}

// A database made before incremental vacuum is switched to it at open.
func TestOpenSwitchesOldDatabaseToIncrementalVacuum(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	if _, err := s.writeDB.Exec(`PRAGMA auto_vacuum = NONE; VACUUM`); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := s.writeDB.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("could not make an old-style database: mode %d, %v", mode, err)
	}
	s.Close()
	s = openStore(t, cfg)
	if err := s.writeDB.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("after reopening auto_vacuum = %d (%v), want 2", mode, err)
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// BenchmarkStoreSize reports the store's size on disk after 1,000 ConfigMaps written 10
// times, and after compaction to the newest 1,000 revisions (issue 16: ≤ about 5 MB).
func BenchmarkStoreSize(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cfg := testConfig(b)
		cfg.KeepRevisions, cfg.MinRevisions, cfg.MaxHistoryAge = 1000, 1000, -1
		s := openStore(b, cfg)
		write10k(b, s)
		before := settledSize(b, s)
		if err := s.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
		after := settledSize(b, s)
		b.ReportMetric(mb(before), "MB-10k-writes")
		b.ReportMetric(mb(after), "MB-compacted")
		s.Close()
	}
}
