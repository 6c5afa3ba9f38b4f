package web

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/web/templates"
)

// Events of the same second are listed in the order the API server stored them
// (resourceVersion): Scheduled, Pulling, Pulled, Created, Started, not the lister's order.
func TestEventsSameSecondInStoreOrder(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo", UID: "u1"}}
	reasons := []string{"Scheduled", "Pulling", "Pulled", "Created", "Started", "Killing", "BackOff", "Unhealthy", "Pulled2", "Created2", "Started2"}
	for i, r := range reasons {
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default",
			// Names sort in another order than the events happened, as real ones do.
			Name: fmt.Sprintf("echo.%x", 0xfff-i*7), ResourceVersion: fmt.Sprint(95 + i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "echo", UID: "u1"},
			Reason:         r, LastTimestamp: metav1.NewTime(at)}
		if err := idx.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	d := &Dashboard{clk: clocktesting.NewFakePassiveClock(at.Add(25 * time.Second)),
		l: listers{events: corelisters.NewEventLister(idx)}}
	for try := 0; try < 5; try++ { // the lister's order varies between calls
		got := d.eventsFor("Pod", pod)
		if len(got) != len(reasons) {
			t.Fatalf("%d events, want %d", len(got), len(reasons))
		}
		for i, e := range got {
			if e.Reason != reasons[i] {
				t.Fatalf("event %d is %s, want %s (order %v)", i, e.Reason, reasons[i], reasonsOf(got))
			}
			if e.Age != "25s" {
				t.Errorf("age %q, want 25s by the injected clock", e.Age)
			}
		}
	}
}

func reasonsOf(evs []templates.EventView) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason)
	}
	return out
}
