package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "WEBKUBE_STORE_CRASH_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes from 16 goroutines forever, printing "revision key" for every
// acknowledged create, until its parent kills it.
func crashChild(path string) {
	// Never outlive a parent that forgot us.
	time.AfterFunc(60*time.Second, func() { os.Exit(3) })
	s, err := New(context.Background(), Config{
		Path:            path,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		CompactInterval: -1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("/crash/%d-%d", g, i)
				rev, err := s.Create(context.Background(), key, []byte(key))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %s\n", rev, key)
				out.Flush() // printed means acknowledged, so flush each line
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestKill9 kills a writing process with SIGKILL and checks that every write it had
// acknowledged is in the database afterwards and that revisions continue above them.
func TestKill9(t *testing.T) {
	cfg := testConfig(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfg.Path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	acked := map[string]int64{}
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		revStr, key, ok := strings.Cut(sc.Text(), " ")
		rev, err := strconv.ParseInt(revStr, 10, 64)
		if !ok || err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked[key] = rev
		if len(acked) == 3000 && !killed {
			// Mid-stream: 16 writers are still going.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines read after the kill were printed, so acknowledged, before the child died.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended on its own after %d writes: %v", len(acked), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", cmd.ProcessState)
	}

	s := openStore(t, cfg)
	ctx := context.Background()
	var maxRev int64
	for key, rev := range acked {
		kv, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("acknowledged write %s at %d lost: %v", key, rev, err)
		}
		if kv.ModRevision != rev || string(kv.Value) != key {
			t.Fatalf("%s = %q at %d, want %q at %d", key, kv.Value, kv.ModRevision, key, rev)
		}
		maxRev = max(maxRev, rev)
	}
	cur, _ := s.CurrentRevision(ctx)
	next := mustCreate(t, s, "/after-crash", "")
	if cur < maxRev || next != cur+1 {
		t.Fatalf("after restart current = %d, next = %d; acknowledged up to %d", cur, next, maxRev)
	}
	kvs, _, err := s.List(ctx, "/crash/", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d in the database, revisions continue at %d", len(acked), len(kvs), next)
}
