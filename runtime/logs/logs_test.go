package logs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"webkube/internal/eventually"
)

// fakeClock advances one second per reading so every line has its own, known time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func writeLog(t *testing.T, path string) {
	t.Helper()
	clk := &fakeClock{t: t0}
	f, err := Create(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f.Stdout(), "one\ntw")
	fmt.Fprint(f.Stderr(), "oops\n")
	fmt.Fprint(f.Stdout(), "o\nthree\n")
	fmt.Fprint(f.Stdout(), "no newline")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Read(context.Background(), path, opts, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, path)
	b, _ := os.ReadFile(path)
	want := "2026-11-25T03:00:01Z stdout F one\n" +
		"2026-11-25T03:00:02Z stderr F oops\n" +
		"2026-11-25T03:00:03Z stdout F two\n" +
		"2026-11-25T03:00:04Z stdout F three\n" +
		"2026-11-25T03:00:05Z stdout F no newline\n"
	if string(b) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", b, want)
	}
}

func TestLongLineIsSplitIntoPartials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxLineBytes+10)
	fmt.Fprintf(f.Stdout(), "%s\nshort\n", long)
	f.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], " stdout P ") || !strings.Contains(lines[1], " stdout F ") {
		t.Fatalf("entries: %d, tags %q %q", len(lines), lines[0][:40], lines[1][:40])
	}
	if got := read(t, path, Options{TailLines: -1}); got != long+"\nshort\n" {
		t.Fatalf("read back %d bytes, want %d", len(got), len(long)+7)
	}
	if got := read(t, path, Options{TailLines: 2}); got != long+"\nshort\n" {
		t.Fatalf("tail 2 counts partials as lines: %d bytes", len(got))
	}
	if got := read(t, path, Options{TailLines: 1}); got != "short\n" {
		t.Fatalf("tail 1 = %q", got)
	}
}

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, path)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"All", Options{TailLines: -1}, "one\noops\ntwo\nthree\nno newline\n"},
		{"Tail2", Options{TailLines: 2}, "three\nno newline\n"},
		{"Tail0", Options{TailLines: 0}, ""},
		{"TailMore", Options{TailLines: 100}, "one\noops\ntwo\nthree\nno newline\n"},
		{"Timestamps", Options{TailLines: 1, Timestamps: true}, "2026-11-25T03:00:05Z no newline\n"},
		{"SinceTime", Options{TailLines: -1, SinceTime: t0.Add(3 * time.Second)}, "two\nthree\nno newline\n"},
		{"LimitBytes", Options{TailLines: -1, LimitBytes: 6}, "one\noo"},
		{"TailAndSince", Options{TailLines: 4, SinceTime: t0.Add(4 * time.Second)}, "three\nno newline\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, path, tc.opts); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// syncBuffer is a buffer the follower writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f.Stdout(), "before\n")
	done := make(chan struct{})
	out := &syncBuffer{}
	flushes := 0
	result := make(chan error, 1)
	go func() {
		result <- Read(context.Background(), path, Options{TailLines: -1, Follow: true, Done: done, Poll: 10 * time.Millisecond, Flush: func() { flushes++ }}, out)
	}()
	eventually.True(t, 5*time.Second, `output "before\n"`, func() bool { return out.String() == "before\n" })
	fmt.Fprint(f.Stderr(), "after\n")
	eventually.True(t, 5*time.Second, `output "before\nafter\n"`, func() bool { return out.String() == "before\nafter\n" })
	fmt.Fprint(f.Stdout(), "last words")
	f.Close()
	close(done)
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after Done")
	}
	if got := out.String(); got != "before\nafter\nlast words\n" {
		t.Fatalf("followed %q", got)
	}
	if flushes != 3 {
		t.Errorf("flushed %d times, want once per line (3)", flushes)
	}
}

func TestFollowEndsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	var buf bytes.Buffer
	if err := Read(ctx, path, Options{TailLines: 1, Follow: true}, &buf); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second || buf.String() != "no newline\n" {
		t.Fatalf("got %q after %v", buf.String(), time.Since(start))
	}
}

func TestPruneKeepsCurrentAndPrevious(t *testing.T) {
	dir := ContainerDir(t.TempDir(), "default", "echo", "uid1", "app")
	for i := 0; i < 4; i++ {
		f, err := Create(filepath.Join(dir, fmt.Sprintf("%d.log", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := Prune(dir, 3); err != nil {
		t.Fatal(err)
	}
	got, err := Instances(dir)
	if err != nil || fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("instances after prune = %v, %v", got, err)
	}
	if p := Path("/d", "ns", "pod", "u", "c", 2); p != "/d/ns_pod_u/c/2.log" {
		t.Fatalf("Path = %s", p)
	}
}
