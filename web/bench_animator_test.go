package web

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/controllers/clustertest"
)

type arrowStat struct {
	Seq int   `json:"seq"`
	Ts  int64 `json:"ts"`
	At  int64 `json:"at"`
}

// BenchmarkWatchToArrow10Tabs measures a change written to the API server until 10 open
// tabs have drawn its arrow on the diagram (API write → watch → step → websocket → SVG),
// in real headless Chromium. Each op relabels a pod: one step ("you set …"), one arrow.
// The diagram plays at "fast" and the writes come slower than that, as a learner's do,
// so the figure is the pipeline's, not the animation queue's.
func BenchmarkWatchToArrow10Tabs(b *testing.B) {
	const tabs = 10
	e, ctx, tabCtx := benchTabs(b, tabs)
	for i, c := range tabCtx {
		run(b, c, fmt.Sprintf("open tab %d", i), 20*time.Second, chromedp.Navigate(e.url+"/"))
		waitJS(b, c, "live", `window.wk && window.wk.ready && !!window.wkDiagram`, 20*time.Second)
		waitJS(b, c, "fast, idle", `window.wkDiagram.setSpeed('fast'); window.wkDiagram.state.queue.length === 0 && !window.wkDiagram.state.playing`, 20*time.Second)
		waitJS(b, c, "reset stats", `window.wkDiagram.state.arrows = []; true`, 5*time.Second)
	}
	sent := make([]time.Time, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"bench":"%d"}}}`, i)
		sent[i] = time.Now()
		if _, err := e.c.Client.CoreV1().Pods("default").Patch(ctx, "bench", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(350 * time.Millisecond) // slower than one arrow at "fast" (300 ms)
	}
	for _, c := range tabCtx {
		waitJS(b, c, "all drawn", fmt.Sprintf(`window.wkDiagram.state.arrows.length >= %d`, b.N), 20*time.Second)
	}
	b.StopTimer()
	var own, full []time.Duration
	for _, c := range tabCtx {
		var got []arrowStat
		if err := json.Unmarshal([]byte(evalString(b, c, `JSON.stringify(window.wkDiagram.state.arrows)`)), &got); err != nil {
			b.Fatal(err)
		}
		if len(got) != b.N {
			b.Fatalf("a tab drew %d arrows for %d changes", len(got), b.N)
		}
		var tab []time.Duration
		for _, a := range got {
			tab = append(tab, time.Duration(a.At-a.Ts)*time.Millisecond)
		}
		t50, t99 := percentiles(tab)
		b.Logf("tab: dashboard share p50 %v p99 %v; message received: %s", t50, t99,
			evalString(b, c, `window.wk.stats.filter(x => String(x.id).startsWith('step-')).slice(-5).map(x => x.at - x.ts).join(',')`))
		for i, a := range got {
			own = append(own, time.Duration(a.At-a.Ts)*time.Millisecond)
			full = append(full, time.UnixMilli(a.At).Sub(sent[i]))
		}
	}
	o50, o99 := percentiles(own)
	p50, p99 := percentiles(full)
	b.ReportMetric(float64(o50.Milliseconds()), "dash-p50-ms")
	b.ReportMetric(float64(o99.Milliseconds()), "dash-p99-ms")
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.ReportMetric(float64(len(full)), "samples")
}

// longTasks records the page's long tasks (over 50 ms) from now on, and Chromium's long
// animation frames with where their time went: scripts (by function), style and layout.
const longTasks = `(() => { window.longTasks = []; window.loafs = [];
	new PerformanceObserver(l => l.getEntries().forEach(e => window.longTasks.push(e.duration))).observe({entryTypes: ['longtask']});
	new PerformanceObserver(l => l.getEntries().forEach(e => {
		const end = e.startTime + e.duration;
		const scripts = e.scripts.map(s => ({fn: (s.invoker || '') + ' ' + (s.sourceFunctionName || ''), ms: Math.round(s.duration), layout: Math.round(s.forcedStyleAndLayoutDuration)}));
		window.loafs.push({ms: Math.round(e.duration), script: scripts.reduce((a, s) => a + s.ms, 0),
			forced: scripts.reduce((a, s) => a + s.layout, 0),
			layout: Math.round(e.styleAndLayoutStart ? end - e.styleAndLayoutStart : 0), scripts: scripts.sort((a, b) => b.ms - a.ms).slice(0, 3)});
	})).observe({type: 'long-animation-frame', buffered: false});
	return true })()`

// worstFrames logs the longest animation frames of the page and where their time went.
const worstFrames = `JSON.stringify(window.loafs.sort((a, b) => b.ms - a.ms).slice(0, 6))`

// BenchmarkScale0To100 scales a ReplicaSet from 0 to 100 pods with the overview open and
// checks that the diagram draws every step the server sent (none dropped) while the page
// stays responsive: the longest task (Chromium's longtask entries, each over 50 ms) and
// how many there were.
func BenchmarkScale0To100(b *testing.B) {
	e := startEnv(b, "node-1", "node-2")
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_ = e.c.Client.AppsV1().ReplicaSets("default").Delete(ctx, "echo-rs", metav1.DeleteOptions{})
		clustertest.Eventually(b, 60*time.Second, func() (bool, string) {
			n, _ := countPods(b, e, "")
			_, err := e.c.Client.AppsV1().ReplicaSets("default").Get(ctx, "echo-rs", metav1.GetOptions{})
			return n == 0 && err != nil, fmt.Sprintf("%d pods left", n)
		})
		if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(0), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		c := browser(b)
		run(b, c, "viewport", 10*time.Second, viewport(1440, 900, false))
		run(b, c, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
		waitJS(b, c, "live", `window.wk && window.wk.ready && !!window.wkDiagram`, 20*time.Second)
		waitJS(b, c, "observe", longTasks, 5*time.Second)
		stopTrace := startTrace(b, c)
		b.StartTimer()
		start := time.Now()
		patch := []byte(`{"spec":{"replicas":100}}`)
		if _, err := e.c.Client.AppsV1().ReplicaSets("default").Patch(ctx, "echo-rs", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		clustertest.Eventually(b, 120*time.Second, func() (bool, string) {
			_, r := countPods(b, e, "app=echo,tier=app")
			return r == 100, fmt.Sprintf("%d running", r)
		})
		// Every step received is drawn, however long the queue (none are dropped).
		waitJS(b, c, "every step drawn", `window.wk.steps >= 600 && window.wkDiagram.state.drawn === window.wk.steps && window.wkDiagram.state.queue.length === 0`, 180*time.Second)
		b.StopTimer()
		stopTrace()
		var steps, drawn int
		var longs []float64
		_ = json.Unmarshal([]byte(evalString(b, c, `String(window.wk.steps)`)), &steps)
		_ = json.Unmarshal([]byte(evalString(b, c, `String(window.wkDiagram.state.drawn)`)), &drawn)
		_ = json.Unmarshal([]byte(evalString(b, c, `JSON.stringify(window.longTasks)`)), &longs)
		maxLong := 0.0
		for _, l := range longs {
			maxLong = max(maxLong, l)
		}
		b.Logf("longest frames: %s", evalString(b, c, worstFrames))
		b.ReportMetric(float64(steps), "steps")
		b.ReportMetric(float64(steps-drawn), "dropped")
		b.ReportMetric(maxLong, "longest-task-ms")
		b.ReportMetric(float64(len(longs)), "long-tasks")
		b.ReportMetric(time.Since(start).Seconds(), "s-to-all-drawn")
	}
}

// A change to a pod redraws only the cells of its row that changed: the row and its other
// cells stay the same elements. Replacing the whole row (and so restyling and laying out
// every cell of it) for each of a scale-up's hundreds of pod changes made most of the
// frames BenchmarkScale0To100 reports as long tasks.
func TestBrowserRowChangeKeepsTheRow(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: "default", Labels: map[string]string{"a": "1"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "ghcr.io/subicura/echo:v1"}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "running", `!!document.querySelector('#row-pod-default-keep[data-status=Running]')`, 30*time.Second)
	waitJS(t, b, "mark", `(() => { const r = document.getElementById('row-pod-default-keep'); r.wkKeep = 1; r.cells[0].wkKeep = 1; return true })()`, 5*time.Second)
	if _, err := e.c.Client.CoreV1().Pods("default").Patch(ctx, "keep", types.MergePatchType, []byte(`{"metadata":{"labels":{"b":"2"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "new label shown", `!!document.querySelector('#row-pod-default-keep .chip[data-key=b]')`, 10*time.Second)
	if got := evalString(t, b, `(() => { const r = document.getElementById('row-pod-default-keep'); return String(r.wkKeep === 1) + ' ' + String(r.cells[0].wkKeep === 1) })()`); got != "true true" {
		t.Errorf("after a label change, the row and its name cell are the same elements: %s, want true true", got)
	}
}
