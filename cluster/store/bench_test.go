package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreate measures creates with 1, 8 and 64 concurrent writers: throughput and
// per-call latency (queueing + group commit + ack).
func BenchmarkCreate(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchCreate(b, writers, 0) })
	}
	// The same without group commit: one transaction per write.
	b.Run("writers=64/no-group-commit", func(b *testing.B) { benchCreate(b, 64, 1) })
}

func benchCreate(b *testing.B, writers, maxBatch int) {
	cfg := testConfig(b)
	cfg.MaxBatch = maxBatch
	s := openStore(b, cfg)
	ctx := context.Background()
	value := make([]byte, 1024) // about the size of a small Pod in JSON
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := s.Create(ctx, fmt.Sprint("/registry/pods/default/p-", i), value); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
}

// BenchmarkCreatePaced measures create latency at a steady rate, one writer: what the
// API server asks of the store at its target of 1000 creates/s, without the queueing
// of a saturated closed loop.
func BenchmarkCreatePaced(b *testing.B) {
	for _, rate := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			value := make([]byte, 2048)
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
					time.Sleep(d)
				}
				t0 := time.Now()
				if _, err := s.Create(ctx, fmt.Sprint("/registry/pods/default/p-", i), value); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkWatchDelay measures the time from a write's COMMIT to its event arriving at
// each of 100 watchers, with one writer creating 1000 objects/s (the API server's
// target rate).
func BenchmarkWatchDelay(b *testing.B) {
	b.Run("watchers=100/rate=1000", func(b *testing.B) { benchWatchDelay(b, 100, 1000) })
}

func benchWatchDelay(b *testing.B, watchers, rate int) {
	s := newStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _ := s.CurrentRevision(ctx)        // the first write is base+1, the last base+b.N
	committed := make([]atomic.Int64, b.N+1) // revision-base → commit time (UnixNano)
	s.afterCommit = func(events []Event) {
		now := time.Now().UnixNano()
		for _, e := range events {
			if r := e.KV.ModRevision - base; r <= int64(b.N) {
				committed[r].Store(now)
			}
		}
	}
	delays := make([][]time.Duration, watchers)
	var wg sync.WaitGroup
	for w := range watchers {
		ch, err := s.Watch(ctx, "/registry/", 0)
		if err != nil {
			b.Fatal(err)
		}
		delays[w] = make([]time.Duration, 0, b.N)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range ch {
				got := time.Now().UnixNano()
				delays[w] = append(delays[w], time.Duration(got-committed[e.KV.ModRevision-base].Load()))
				if e.KV.ModRevision == base+int64(b.N) {
					return
				}
			}
			b.Errorf("watcher %d closed early", w)
		}()
	}
	value := make([]byte, 1024)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
		if _, err := s.Create(ctx, fmt.Sprint("/registry/pods/default/p-", i), value); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	for _, d := range delays {
		all = append(all, d...)
	}
	reportLatency(b, all)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // per-op time is meaningless across concurrent writers
}
