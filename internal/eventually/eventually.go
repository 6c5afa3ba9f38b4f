// Package eventually is how tests wait: they poll a condition until it holds or a
// deadline passes, instead of sleeping a guessed time. Every package's tests use it, so a
// failure reads the same everywhere: what was awaited, for how long, and the last state.
package eventually

import (
	"testing"
	"time"
)

// That fails the test (t.Fatalf) unless cond holds within timeout. cond returns whether it
// holds and a description of the state it saw, which the failure message shows.
func That(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if ok, last := Within(timeout, cond); !ok {
		t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
	}
}

// True is That for a condition with no state worth showing.
func True(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	That(t, timeout, what, func() (bool, string) { return cond(), "" })
}

// Within polls cond until it holds or timeout passes and reports whether it held, with
// cond's last description. It is for tests that count failures instead of stopping at
// the first one.
func Within(timeout time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	every := Interval(timeout)
	for {
		ok, last := cond()
		if ok {
			return true, last
		}
		if time.Now().After(deadline) {
			return false, last
		}
		time.Sleep(every)
	}
}

// Interval is how often a wait of timeout polls: often for the short waits of unit tests,
// at most 5 times a second for the long ones, whose conditions often run a command.
func Interval(timeout time.Duration) time.Duration {
	return min(max(timeout/150, 10*time.Millisecond), 200*time.Millisecond)
}
