package worker

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/client-go/tools/cache"
)

// ShutDownQueue is a Queue that can be shut down, as client-go's work queues are.
type ShutDownQueue[T comparable] interface {
	Queue[T]
	ShutDown()
}

// Loop is how a controller runs: start its informers, wait until their caches have
// synced, then run Workers copies of Run over Queue until ctx ends (which shuts Queue
// down). Every controller's Start was these same lines.
type Loop[T comparable] struct {
	Name      string                                     // for the error when caches never sync
	Informers interface{ Start(stopCh <-chan struct{}) } // the shared informer factory
	Synced    []cache.InformerSynced
	Queue     ShutDownQueue[T]
	Workers   int
	Sync      func(context.Context, T) error
	Logger    *slog.Logger
}

// Start returns once the caches have synced (or with an error if ctx ended first); the
// workers keep running until ctx ends.
func (l Loop[T]) Start(ctx context.Context) error {
	l.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), l.Synced...) {
		return fmt.Errorf("%s: caches did not sync", l.Name)
	}
	go func() { <-ctx.Done(); l.Queue.ShutDown() }()
	for range l.Workers {
		go Run(ctx, l.Queue, l.Sync, l.Logger)
	}
	return nil
}
