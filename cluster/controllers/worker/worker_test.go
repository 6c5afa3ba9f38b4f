package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newQueue(clk *clocktesting.FakeClock) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "test", Clock: clk})
}

// TestPanicIsRetriedWithBackoff: a sync that panics on one key is logged with that key
// and its stack, the key comes back only after its backoff, and other keys still sync.
func TestPanicIsRetriedWithBackoff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	q := newQueue(clk)
	defer q.ShutDown()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var synced []string
	sync := func(_ context.Context, key string) error {
		synced = append(synced, key)
		if key == "default/bad" {
			var m map[string]int
			m["boom"]++ // a nil-map write: a real runtime panic
		}
		return nil
	}
	ctx := context.Background()
	q.Add("default/bad")
	q.Add("default/good")
	for range 2 {
		if !ProcessNext(ctx, q, sync, log) {
			t.Fatal("queue shut down")
		}
	}
	if strings.Join(synced, ",") != "default/bad,default/good" {
		t.Fatalf("synced %v", synced)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "sync panicked", "key=default/bad", "assignment to entry in nil map", "worker_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := q.NumRequeues("default/bad"); n != 1 {
		t.Errorf("bad requeued %d times, want 1", n)
	}
	if n := q.NumRequeues("default/good"); n != 0 {
		t.Errorf("good requeued %d times, want 0 (forgotten)", n)
	}
	// Backoff: not back before 1 s, back after it.
	clk.Step(999 * time.Millisecond)
	waitLen(t, q, 0)
	clk.Step(time.Millisecond)
	waitLen(t, q, 1)
	ProcessNext(ctx, q, sync, log)
	// The second failure waits twice as long.
	clk.Step(1999 * time.Millisecond)
	waitLen(t, q, 0)
	clk.Step(time.Millisecond)
	waitLen(t, q, 1)
	if n := q.NumRequeues("default/bad"); n != 2 {
		t.Errorf("bad requeued %d times, want 2", n)
	}
}

// waitLen waits for the queue's delayed adds to settle at n ready keys.
func waitLen(t *testing.T, q workqueue.TypedRateLimitingInterface[string], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for q.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue has %d ready keys, want %d", q.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	if n == 0 {
		// The delaying queue moves ready items on its own goroutine; give it a moment
		// to prove nothing arrives early.
		time.Sleep(20 * time.Millisecond)
		if q.Len() != 0 {
			t.Fatalf("key came back before its backoff")
		}
	}
}

func TestErrorsAndShutdown(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := newQueue(clk)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fail := errors.New("disk on fire")
	q.Add("default/err")
	ProcessNext(context.Background(), q, func(context.Context, string) error { return fail }, log)
	if n := q.NumRequeues("default/err"); n != 1 {
		t.Errorf("requeued %d times, want 1", n)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "key=default/err") || !strings.Contains(out, "disk on fire") {
		t.Errorf("log: %s", out)
	}
	q.ShutDown()
	done := make(chan struct{})
	go func() {
		Run(context.Background(), q, func(context.Context, string) error { return nil }, log)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ShutDown")
	}
}
