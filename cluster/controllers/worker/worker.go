// Package worker is the loop every webkube controller, the scheduler and the nodes run
// over their work queue: take a key, sync it, forget it on success, requeue it with
// backoff on an error or a panic. A panic is logged with the key and its stack and costs
// only that key a retry; it never takes the rest of webkube down, as client-go's
// HandleCrash (which re-panics) would.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Queue is the part of client-go's rate-limited work queue a worker uses.
type Queue[T comparable] interface {
	Get() (T, bool)
	Done(T)
	Forget(T)
	AddRateLimited(T)
}

// Run processes keys until the queue shuts down.
func Run[T comparable](ctx context.Context, q Queue[T], sync func(context.Context, T) error, log *slog.Logger) {
	for ProcessNext(ctx, q, sync, log) {
	}
}

// ProcessNext syncs one key; false means the queue has shut down.
func ProcessNext[T comparable](ctx context.Context, q Queue[T], sync func(context.Context, T) error, log *slog.Logger) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	err := Safely(func() error { return sync(ctx, key) })
	if err == nil {
		q.Forget(key)
		return true
	}
	if ctx.Err() != nil {
		return true // shutting down: the next start syncs everything anyway
	}
	LogRetry(log, key, err)
	q.AddRateLimited(key)
	return true
}

// LogRetry logs why key is about to be retried: a panic as an error with its stack, a
// conflict quietly, anything else as a warning.
func LogRetry(log *slog.Logger, key any, err error) {
	var p *PanicError
	switch {
	case errors.As(err, &p):
		log.Error("sync panicked, retrying with backoff", "key", fmt.Sprint(key), "panic", fmt.Sprint(p.Value), "stack", string(p.Stack))
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		// Our cache has not seen the newest object (often our own last write); the retry will.
		log.Debug("sync conflict, retrying", "key", fmt.Sprint(key), "err", err)
	default:
		log.Warn("sync failed, retrying with backoff", "key", fmt.Sprint(key), "err", err)
	}
}

// PanicError is a panic turned into an error by Safely.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Safely runs fn and turns a panic in it into a *PanicError. Goroutines a sync starts
// (parallel creates, bindings) run their work through it too: a panic can only be
// recovered on the goroutine that raised it.
func Safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}
