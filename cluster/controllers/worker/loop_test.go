package worker

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"webkube/internal/eventually"
)

type fakeInformers struct{ started atomic.Bool }

func (f *fakeInformers) Start(<-chan struct{}) { f.started.Store(true) }

func TestLoopStartsInformersThenWorkers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inf := &fakeInformers{}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	var synced atomic.Int32
	l := Loop[string]{Name: "test", Informers: inf, Synced: nil, Queue: q, Workers: 2, Logger: slog.Default(),
		Sync: func(context.Context, string) error { synced.Add(1); return nil }}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !inf.started.Load() {
		t.Fatal("informers not started")
	}
	q.Add("a")
	q.Add("b")
	eventually.True(t, 5*time.Second, "both keys synced", func() bool { return synced.Load() == 2 })
	cancel()
	eventually.True(t, 5*time.Second, "queue shut down once ctx ended", q.ShuttingDown)
}

func TestLoopCachesThatNeverSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	l := Loop[string]{Name: "jobs", Informers: &fakeInformers{}, Synced: []cache.InformerSynced{func() bool { return false }},
		Queue: q, Workers: 1, Logger: slog.Default(), Sync: func(context.Context, string) error { return nil }}
	err := l.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "jobs: caches did not sync") {
		t.Fatalf("err = %v, want one naming the controller", err)
	}
}
