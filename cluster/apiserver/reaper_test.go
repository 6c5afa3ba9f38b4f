package apiserver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/store"
)

func TestEventReaperDeletesOnlyExpired(t *testing.T) {
	ctx := context.Background()
	st, err := store.New(ctx, store.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	s, err := New(Config{Store: st, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	r := resourceFor(coreGR("events"))
	mk := func(name string, last time.Time) {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default"},
			Reason:         "Test", Message: "m", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "test"},
			FirstTimestamp: metav1.NewTime(last), LastTimestamp: metav1.NewTime(last), Count: 1}
		if _, err := s.create(ctx, r, "default", ev, false); err != nil {
			t.Fatal(err)
		}
	}
	mk("recent", clk.Now().Add(45*time.Minute))
	mk("old", clk.Now())
	clk.Step(90 * time.Minute) // "old" was last seen 90m ago (> 1h TTL), "recent" 45m ago
	n, err := s.reapEvents(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reaped %d (%v), want 1", n, err)
	}
	if _, err := st.Get(ctx, r.key("default", "old")); err == nil {
		t.Fatal("expired event kept")
	}
	if _, err := st.Get(ctx, r.key("default", "recent")); err != nil {
		t.Fatalf("live event deleted: %v", err)
	}
}
