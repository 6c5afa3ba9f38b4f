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
	"nhooyr.io/websocket"

	"webkube/internal/eventually"
	"webkube/web/templates"
)

// With 2,000 pods the overview's HTML and its websocket snapshot carry one page of pods
// (PodPageSize rows), and the server renders both in well under a second.
func TestOverviewPagesPods(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	for i := 0; i < 2000; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%04d", i), Namespace: "default", Labels: map[string]string{"set": fmt.Sprint(i % 20)}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("n-%02d", i%50), Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually.That(t, 30*time.Second, "2,000 pods in the dashboard's cache", func() (bool, string) {
		pods, _ := e.d.l.pods.List(everything)
		return len(pods) == 2000, fmt.Sprint(len(pods))
	})
	t0 := time.Now()
	res, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := time.Since(t0)
	rows := strings.Count(string(body), `data-testid="pod-row"`)
	t0 = time.Now()
	conn, _, err := websocket.Dial(ctx, strings.Replace(e.url, "http", "ws", 1)+"/ws?page=overview", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {e.url}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 24)
	snap, snapRows := 0, 0
	for {
		_, m, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		snap += len(m)
		snapRows += strings.Count(string(m), `data-testid=\"pod-row\"`) + strings.Count(string(m), `data-testid="pod-row"`)
		if string(m) == `{"t":"ready"}` {
			break
		}
	}
	live := time.Since(t0)
	t.Logf("2,000 pods: page %d KiB in %v with %d pod rows; snapshot %d KiB in %v with %d pod rows", len(body)>>10, page.Round(time.Millisecond), rows, snap>>10, live.Round(time.Millisecond), snapRows)
	if rows != templates.PodPageSize || snapRows != templates.PodPageSize {
		t.Errorf("page has %d pod rows, snapshot %d; want %d each", rows, snapRows, templates.PodPageSize)
	}
	if page > time.Second || live > time.Second {
		t.Errorf("page took %v, snapshot %v; want each within 1s", page, live)
	}
	// The tab asks for a filtered page: it gets the 100 pods of set=7 only.
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"t":"pods","q":"set=7","off":0}`)); err != nil {
		t.Fatal(err)
	}
	_, m, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(m), `data-testid=\"pod-row\"`); n != 100 || strings.Contains(string(m), `p-0008`) {
		t.Errorf("filtered page: %d rows, want set=7's 100:\n%.300s", n, m)
	}
}
