package stepper

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// waitHeld polls until n steps are held.
func waitHeld(t *testing.T, g *Gate, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(g.Waiting()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("held %d steps, want %d", len(g.Waiting()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Three components held at once: each Next lets exactly one go, the oldest first.
func TestNextReleasesOneOldestFirst(t *testing.T) {
	g := New()
	g.SetStepMode(true)
	var mu sync.Mutex
	var done []string
	for i := range 3 {
		name := fmt.Sprintf("pod-%d", i)
		go func() {
			if err := g.Wait(context.Background(), Step{Component: "scheduler", Name: name}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			done = append(done, name)
			mu.Unlock()
		}()
		waitHeld(t, g, i+1) // so the order of holding is known
	}
	for i := range 3 {
		s, ok := g.Next()
		if want := fmt.Sprintf("pod-%d", i); !ok || s.Name != want {
			t.Fatalf("Next released %q (ok %v), want %q", s.Name, ok, want)
		}
		waitHeld(t, g, 2-i)
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(done)
			mu.Unlock()
			if n == i+1 {
				break
			}
			if n > i+1 || time.Now().After(deadline) {
				t.Fatalf("after %d Next, %d steps went on", i+1, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if _, ok := g.Next(); ok {
		t.Error("Next with nothing held said it released a step")
	}
}

// Run (step mode off) releases every held step; a cancelled Wait leaves the queue.
func TestRunReleasesAllAndCancelLeaves(t *testing.T) {
	g := New()
	g.SetStepMode(true)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	go func() { errs <- g.Wait(ctx, Step{Name: "cancelled"}) }()
	waitHeld(t, g, 1)
	go func() { errs <- g.Wait(context.Background(), Step{Name: "a"}) }()
	go func() { errs <- g.Wait(context.Background(), Step{Name: "b"}) }()
	waitHeld(t, g, 3)
	cancel()
	if err := <-errs; err != context.Canceled {
		t.Fatalf("cancelled Wait returned %v", err)
	}
	waitHeld(t, g, 2)
	if w := g.Waiting(); w[0].Name != "a" && w[0].Name != "b" {
		t.Fatalf("waiting %+v", w)
	}
	g.SetStepMode(false)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Wait(context.Background(), Step{Name: "free"}); err != nil {
		t.Fatal(err)
	}
}
