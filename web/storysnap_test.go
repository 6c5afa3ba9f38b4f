package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"nhooyr.io/websocket"

	"webkube/web/steps"
	"webkube/web/stories"
)

// fakeStories derives the steps of n pods created, bound and started (six steps and one
// story each, with their diffs), as the dispatcher would from their watch events.
func fakeStories(n int) []steps.Step {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	der, tr := steps.New(func() time.Time { return now }), stories.New()
	var out []steps.Step
	add := func(ss []steps.Step) {
		for i := range ss {
			tr.Assign(&ss[i])
		}
		out = append(out, ss...)
	}
	rv := 0
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("echo-%03d", i)
		next := func(p *corev1.Pod) *corev1.Pod {
			q := p.DeepCopy()
			rv++
			q.ResourceVersion = fmt.Sprint(rv)
			return q
		}
		p := next(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Labels: map[string]string{"app": "echo"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sleep", "3600"}}}}})
		add(der.Pod("ADDED", nil, p))
		b := next(p)
		b.Spec.NodeName = "node-1"
		add(der.Pod("MODIFIED", p, b))
		r := next(b)
		r.Status.Phase = corev1.PodRunning
		r.Status.PodIP = "10.88.0.9"
		r.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, ContainerID: "containerd://" + name,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}}}
		add(der.Pod("MODIFIED", b, r))
	}
	return out
}

// snapshot reads a page's websocket until "ready" and answers its size and the steps list.
func snapshot(t *testing.T, url, query string) (size int, stepsHTML string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/ws?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20) // an oversized snapshot fails on its size below, not here
	for {
		_, m, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		size += len(m)
		if strings.HasPrefix(string(m), `{"t":"set","id":"steps"`) {
			stepsHTML = string(m)
		}
		if string(m) == `{"t":"ready"}` {
			return size, stepsHTML
		}
	}
}

// A page's snapshot sends one summary per folded story and the steps of the newest only:
// it stays small however many steps the timeline keeps (every step, even without its body,
// was 275 KB after 202 steps). A folded story's steps come when the page asks; an object
// page gets only the stories it took part in.
func TestSnapshotSendsFoldedStories(t *testing.T) {
	e := startEnv(t)
	all := fakeStories(50) // 300 steps (as many as the timeline keeps) in 50 stories
	e.d.mu.Lock()
	e.d.ring.Add(all...)
	n := len(e.d.ring.All())
	e.d.mu.Unlock()
	if n < 250 {
		t.Fatalf("%d steps in the timeline, want the test's 300", n)
	}
	size, list := snapshot(t, e.url, "page=overview")
	t.Logf("%d steps in 50 stories: websocket snapshot %d KB, steps list %d KB", n, size/1024, len(list)/1024)
	if c := strings.Count(list, `data-testid=\"story\"`); c != 50 {
		t.Errorf("snapshot has %d stories, want 50", c)
	}
	if c := strings.Count(list, `data-more`); c != 49 {
		t.Errorf("%d stories say the page must fetch their steps, want the 49 folded ones", c)
	}
	if c := strings.Count(list, `<li id=\"step-`); c != 6 {
		t.Errorf("snapshot has %d steps, want the newest story's 6", c)
	}
	if len(list) > 32*1024 || size > 48*1024 {
		t.Errorf("steps list %d KB, snapshot %d KB: want under 32 and 48 KB", len(list)/1024, size/1024)
	}
	// The first story's steps, when the page opens it.
	first := all[0].Story
	res, err := http.Get(fmt.Sprintf("%s/ui/story/%d", e.url, first))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Count(string(body), `<li id="step-`) != 6 || !strings.Contains(string(body), `data-name="echo-000"`) || strings.Contains(string(body), `data-name="echo-001"`) {
		t.Errorf("GET /ui/story/%d: %d\n%s", first, res.StatusCode, body)
	}
	if res, err := http.Get(e.url + "/ui/story/100000"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown story: %v %v", res.StatusCode, err)
	}
	// A pod's page: only its own story, unfolded with its steps.
	_, list = snapshot(t, e.url, "obj=pod/default/echo-007")
	if c := strings.Count(list, `data-testid=\"story\"`); c != 1 || !strings.Contains(list, `data-name=\"echo-007\"`) || strings.Count(list, `<li id=\"step-`) != 6 {
		t.Errorf("pod echo-007's page got %d stories:\n%.2000s", c, list)
	}
	// A node's page: the stories of the pods on it.
	_, list = snapshot(t, e.url, "obj=node/_/node-1")
	if c := strings.Count(list, `data-testid=\"story\"`); c != 50 {
		t.Errorf("node-1's page got %d stories, want 50", c)
	}
}
