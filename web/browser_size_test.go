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
// snapshot, not also in the page), older ones without the bodies they show only when opened.
func TestBrowserOverviewAfterManySteps(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
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
	res, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	b := browser(t)
	run(t, b, "viewport", 5*time.Second, viewport(1440, 900, false))
	start := time.Now()
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "ready", `window.wk.ready`, 10*time.Second)
	ready := time.Since(start)
	wsBytes, _ := strconv.Atoi(evalString(t, b, `String(window.wk.snapBytes || 0)`))
	shown := evalString(t, b, `String(document.querySelectorAll('#steps li.step').length)`)
	t.Logf("%d steps: page %d KB, websocket snapshot %d KB, ready in %v, %s steps in the list", steps, len(body)/1024, wsBytes/1024, ready.Round(time.Millisecond), shown)
	// An old step, sent without its body, shows it when opened.
	run(t, b, "open an old step", 10*time.Second, js(`(() => { const li = document.querySelector('#steps li.step'); li.closest('details.story').open = true; li.querySelector('details').open = true; return true })()`))
	waitJS(t, b, "its body", `(() => { const p = document.querySelector('#steps li.step .st-body p'); return !!p && p.textContent.includes('resourceVersion') })()`, 10*time.Second)
	// Measured with about 200 steps: page 500 KB + snapshot 586 KB before, 38 + 275 KB after.
	if len(body) > 64*1024 || len(body)+wsBytes > 400*1024 {
		t.Errorf("page %d KB + snapshot %d KB, want the page under 64 KB and both under 400 KB", len(body)/1024, wsBytes/1024)
	}
}
