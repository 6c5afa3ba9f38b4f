package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
)

// After about 190 steps the overview stays small: the steps come once (in the websocket's
// snapshot, not also in the page), folded stories as one summary each, their steps and
// each step's body fetched only when opened.
func TestBrowserOverviewAfterManySteps(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	emptyPage := pageBytes(t, e.url+"/") // the tables and the diagram, before any story
	ringLen := func() int {
		e.d.mu.Lock()
		defer e.d.mu.Unlock()
		return len(e.d.ring.All())
	}
	for n := int32(6); ringLen() < 190; n = 7 - n { // 6, 1, 6, 1, …
		scaleRS(t, e, n)
		clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
			total, running := countPods(t, e, "app=echo")
			return total == int(n) && running == int(n), fmt.Sprintf("%d/%d pods running, want %d", running, total, n)
		})
	}
	steps := ringLen()
	body := pageBytes(t, e.url+"/")
	b := browser(t)
	run(t, b, "viewport", 5*time.Second, viewport(1440, 900, false))
	start := time.Now()
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "ready", `window.wk.ready`, 10*time.Second)
	ready := time.Since(start)
	wsBytes, _ := strconv.Atoi(evalString(t, b, `String(window.wk.snapBytes || 0)`))
	shown := evalString(t, b, `String(document.querySelectorAll('#steps li.step').length)`)
	t.Logf("%d steps: page %d KB (%d KB before any step), websocket snapshot %d KB, ready in %v, %s steps in the list",
		steps, len(body)/1024, len(emptyPage)/1024, wsBytes/1024, ready.Round(time.Millisecond), shown)
	// An old story, sent folded without its steps, fetches them when opened; an old step
	// its body.
	run(t, b, "open an old story", 10*time.Second, js(`(() => { document.querySelector('#steps details.story').open = true; return true })()`))
	waitJS(t, b, "its steps", `!!document.querySelector('#steps details.story li.step')`, 10*time.Second)
	run(t, b, "open an old step", 10*time.Second, js(`(() => { document.querySelector('#steps li.step details').open = true; return true })()`))
	waitJS(t, b, "its body", `(() => { const p = document.querySelector('#steps li.step .st-body p'); return !!p && p.textContent.includes('resourceVersion') })()`, 10*time.Second)
	// Replaying another folded story fetches its steps and draws every one of them.
	run(t, b, "replay a folded story", 10*time.Second, js(`(() => { const s = document.querySelectorAll('#steps details.story')[1]; window.replayed = s; s.querySelector('.replay').click(); return true })()`))
	waitJS(t, b, "its steps replayed", `(() => { const s = window.replayed; const n = Number(s.dataset.n); return n > 0 && !('more' in s.dataset) && s.querySelectorAll('li.step').length === n && window.wkDiagram.state.drawn >= n })()`, 60*time.Second)
	// Measured with about 200 steps: page 500 KB + snapshot 586 KB, then 38 + 275 KB with
	// every step sent without its body, now one summary per folded story.
	// The steps' share is bounded, whatever the page's tables weigh: each kind the
	// overview shows adds its empty table (about 1 KB) to every page.
	if grown := len(body) - len(emptyPage); grown > 32*1024 || grown+wsBytes > 96*1024 {
		t.Errorf("200 steps grew the page by %d KB and sent a snapshot of %d KB, want under 32 KB and both under 96 KB", grown/1024, wsBytes/1024)
	}
}

// pageBytes is the HTML of the page at url.
func pageBytes(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
