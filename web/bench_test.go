package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"nhooyr.io/websocket"

	"webkube/cluster/controllers/clustertest"
)

// BenchmarkFanout100 measures one message reaching 100 websocket clients through the hub
// (the path every watch event takes to the open tabs), over real loopback websockets.
func BenchmarkFanout100(b *testing.B) {
	const clients = 100
	h := newHub()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := conn.CloseRead(r.Context())
		c := newClient(topicOverview)
		h.add(c)
		defer h.remove(c)
		_ = c.pump(ctx, conn)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int, clients*4)
	for i := 0; i < clients; i++ {
		conn, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		go func() {
			for {
				_, m, err := conn.Read(ctx)
				if err != nil {
					return
				}
				n, _ := strconv.Atoi(string(m[len(`{"t":"up","id":"`) : len(m)-2]))
				got <- n
			}
		}()
	}
	for h.count() < clients {
		time.Sleep(time.Millisecond)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		h.publish(topicOverview, []byte(fmt.Sprintf(`{"t":"up","id":"%d"}`, i)))
		for k := 0; k < clients; k++ {
			if n := <-got; n != i {
				b.Fatalf("client got message %d during round %d", n, i)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs/100-clients")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs/100-clients")
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

// observer records, in the page, when the bench pod's row first shows each value of its
// "bench" label: the moment the DOM was updated.
const observer = `(() => {
	window.seen = {};
	const check = () => {
		const c = document.querySelector('#row-pod-default-bench .chip[data-key=bench]');
		if (!c) return;
		const v = c.textContent.split('=')[1];
		if (!(v in window.seen)) window.seen[v] = Date.now();
	};
	new MutationObserver(check).observe(document.getElementById('tbody-pods'), {childList: true, subtree: true, characterData: true});
	return true;
})()`

// BenchmarkWatchToDOM10Tabs measures a change written to the API server until the DOM of
// 10 open overview tabs shows it (API write → watch event → informer → render → websocket
// → DOM), in real headless Chromium. Run with -benchtime=100x.
func BenchmarkWatchToDOM10Tabs(b *testing.B) {
	const tabs = 10
	e, ctx, tabCtx := benchTabs(b, tabs)
	for i, c := range tabCtx {
		run(b, c, fmt.Sprintf("open tab %d", i), 20*time.Second, chromedp.Navigate(e.url+"/"))
		waitJS(b, c, "live", `window.wk && window.wk.ready && !!document.getElementById('row-pod-default-bench')`, 20*time.Second)
		waitJS(b, c, "observer", observer, 5*time.Second)
	}
	sent := map[int]time.Time{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"bench":"%d"}}}`, i)
		sent[i] = time.Now()
		if _, err := e.c.Client.CoreV1().Pods("default").Patch(ctx, "bench", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		// One change at a time, without polling the tabs meanwhile (polling would load
		// the same two cores the measurement runs on).
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range tabCtx {
		waitJS(b, c, "tab updated", fmt.Sprintf(`'%d' in window.seen`, b.N-1), 10*time.Second)
	}
	b.StopTimer()
	// The dashboard's own share: watch event in the dashboard → DOM (wk.stats).
	var own []time.Duration
	for _, c := range tabCtx {
		s := evalString(b, c, `window.wk.stats.filter(x => x.id === 'row-pod-default-bench').map(x => x.at - x.ts).join(',')`)
		for _, f := range strings.Split(s, ",") {
			if ms, err := strconv.ParseInt(f, 10, 64); err == nil {
				own = append(own, time.Duration(ms)*time.Millisecond)
			}
		}
	}
	o50, o99 := percentiles(own)
	b.ReportMetric(float64(o50.Milliseconds()), "dash-p50-ms")
	b.ReportMetric(float64(o99.Milliseconds()), "dash-p99-ms")
	var lat []time.Duration
	var mu sync.Mutex
	for _, c := range tabCtx {
		js := `JSON.stringify(window.seen)`
		s := evalString(b, c, js)
		for i := 0; i < b.N; i++ {
			key := fmt.Sprintf(`"%d":`, i)
			at := strings.Index(s, key)
			if at < 0 {
				b.Fatalf("tab never showed %d", i)
			}
			rest := s[at+len(key):]
			end := strings.IndexAny(rest, ",}")
			ms, _ := strconv.ParseInt(rest[:end], 10, 64)
			mu.Lock()
			lat = append(lat, time.UnixMilli(ms).Sub(sent[i]))
			mu.Unlock()
		}
	}
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.ReportMetric(float64(len(lat)), "samples")
}

// benchTabs starts a cluster with one Running pod "bench" (labelled bench=start) and opens
// n browser tabs, not yet on any page: the set-up the 10-tab benchmarks share.
func benchTabs(b *testing.B, n int) (*env, context.Context, []context.Context) {
	e := startEnv(b, "node-1")
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default", Labels: map[string]string{"bench": "start"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	clustertest.Eventually(b, 20*time.Second, func() (bool, string) {
		p, err := e.c.Client.CoreV1().Pods("default").Get(ctx, "bench", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, "bench pod not running"
	})
	first := browser(b)
	tabCtx := []context.Context{first}
	for i := 1; i < n; i++ {
		c, cancel := chromedp.NewContext(first)
		b.Cleanup(cancel)
		// The first run opens the tab and ties it to its context: no timeout here.
		if err := chromedp.Do(c); err != nil {
			b.Fatal(err)
		}
		tabCtx = append(tabCtx, c)
	}
	return e, ctx, tabCtx
}
