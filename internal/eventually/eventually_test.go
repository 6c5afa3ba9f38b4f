package eventually

import (
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that notes a Fatalf instead of stopping the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	for _, a := range args {
		r.failed += " " + toString(a)
	}
}

func toString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case time.Duration:
		return v.String()
	}
	return "?"
}

func TestThatPassesOnceTheConditionHolds(t *testing.T) {
	n := 0
	r := &recorder{TB: t}
	That(r, time.Second, "third call", func() (bool, string) { n++; return n == 3, "" })
	if r.failed != "" || n != 3 {
		t.Fatalf("failed %q after %d calls", r.failed, n)
	}
}

func TestThatFailsWithTheLastState(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	That(r, 100*time.Millisecond, "never", func() (bool, string) { return false, "state 7" })
	if took := time.Since(start); took < 100*time.Millisecond || took > time.Second {
		t.Fatalf("gave up after %s, want just after 100ms", took)
	}
	if !strings.Contains(r.failed, "never") || !strings.Contains(r.failed, "state 7") || !strings.Contains(r.failed, "100ms") {
		t.Fatalf("failure message lacks what, timeout or last state: %q", r.failed)
	}
}

func TestWithinReportsWithoutFailing(t *testing.T) {
	ok, last := Within(50*time.Millisecond, func() (bool, string) { return false, "no" })
	if ok || last != "no" {
		t.Fatalf("Within = %v %q", ok, last)
	}
	if ok, _ := Within(time.Second, func() (bool, string) { return true, "" }); !ok {
		t.Fatal("a holding condition did not pass")
	}
}

func TestInterval(t *testing.T) {
	for _, c := range []struct{ timeout, want time.Duration }{
		{time.Second, 10 * time.Millisecond}, {5 * time.Second, 33333333}, {time.Minute, 200 * time.Millisecond},
	} {
		if got := Interval(c.timeout); got != c.want {
			t.Errorf("Interval(%s) = %s, want %s", c.timeout, got, c.want)
		}
	}
}
