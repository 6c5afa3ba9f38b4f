package lessons

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/store"
)

// fakeState is a fixed cluster for the bookkeeping tests; the checks themselves are tested
// against a real API server in package web.
type fakeState struct{ pods []*corev1.Pod }

func (f fakeState) Pods(string) []*corev1.Pod                  { return f.pods }
func (f fakeState) ReplicaSets(string) []*appsv1.ReplicaSet    { return nil }
func (f fakeState) Deployments(string) []*appsv1.Deployment    { return nil }
func (f fakeState) Services(string) []*corev1.Service          { return nil }
func (f fakeState) Endpoints(string, string) *corev1.Endpoints { return nil }
func (f fakeState) Logs(string, string, string) string         { return "" }
func (f fakeState) Exec(string, string, string, ...string) (string, bool) {
	return "", false
}

func TestEvaluateInOrder(t *testing.T) {
	ctx := context.Background()
	l, _ := Find("pod")
	p := NewMemory()
	// No pod: run is current; delete-run's check ("echo is gone") would pass on its own,
	// but steps count only in order.
	st, err := Evaluate(ctx, l, fakeState{}, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Done || !st[0].Current || st[1].Done {
		t.Fatalf("empty cluster: %+v", st)
	}
	if err := p.MarkDone(ctx, "pod", "run", time.Now()); err != nil {
		t.Fatal(err)
	}
	st, _ = Evaluate(ctx, l, fakeState{}, p, time.Now())
	if !st[0].Done || !st[1].Done || !st[2].Current {
		t.Fatalf("after run: %+v, want run and delete-run done, apply current", st)
	}
	if err := p.Reset(ctx, "pod"); err != nil {
		t.Fatal(err)
	}
	if done, _ := p.Done(ctx, "pod"); len(done) != 0 {
		t.Fatalf("reset kept %v", done)
	}
}

func TestLessonsFollowTheNotes(t *testing.T) {
	var ids []string
	for _, l := range All() {
		ids = append(ids, l.ID)
		for _, s := range l.Steps {
			if s.Command(fakeState{}) == "" || s.Do == nil || s.Check == nil || s.Title == "" || s.Explain == "" {
				t.Errorf("%s/%s lacks a command, button, check or text", l.ID, s.ID)
			}
		}
	}
	want := "pod probes multi replicaset scale deployment service"
	if strings.Join(ids, " ") != want {
		t.Errorf("lessons %v, want the notes' order %s", ids, want)
	}
}

// TestSQLiteProgress: progress survives reopening webkube's database (migration 003).
func TestSQLiteProgress(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "webkube.db")
	st, err := store.New(ctx, store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	if err := p.MarkDone(ctx, "pod", "run", at); err != nil {
		t.Fatal(err)
	}
	if err := p.MarkDone(ctx, "pod", "run", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done, err := p.Done(ctx, "pod")
	if err != nil || !done["run"].Equal(at) || len(done) != 1 {
		t.Fatalf("after reopen: %v %v, want run at %v", done, err, at)
	}
	if err := p.Reset(ctx, "pod"); err != nil {
		t.Fatal(err)
	}
	if done, _ := p.Done(ctx, "pod"); len(done) != 0 {
		t.Fatalf("reset kept %v", done)
	}
	if _, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "empty.db")); err == nil {
		t.Fatal("an unmigrated database was accepted")
	}
}
