package events

import (
	"context"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// RecorderUntilDone is NewRecorder for a component that records until ctx ends.
func RecorderUntilDone(ctx context.Context, client kubernetes.Interface, component string) record.EventRecorder {
	rec, stop := NewRecorder(ctx, client, component)
	go func() { <-ctx.Done(); stop() }()
	return rec
}
