package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A first visit opens a short tour naming each box of the diagram in turn (the box is
// outlined); closing it is remembered across reloads, and the help dialog starts it again.
// In Korean, as the learner's browser asks.
func TestBrowserTour(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 20*time.Second)
	if evalString(t, b, `document.documentElement.lang`) != "ko" {
		run(t, b, "switch to Korean", 10*time.Second, click(`[data-testid=lang-switch]`))
		waitJS(t, b, "page in ko", `document.documentElement.lang === "ko" && window.wk && window.wk.ready`, 20*time.Second)
	}
	// Every controller that announces steps has its box in the controller manager, its
	// label inside it (the StatefulSet and DaemonSet controllers' steps drew no arrow).
	boxes := evalString(t, b, `(() => { const d = document.getElementById('diagram');
		return JSON.parse(d.dataset.ctrls).map(c => { const r = d.querySelector('#diagram svg [data-box="' + c.id + '"]');
			if (!r) return c.id + ': no box';
			const x = r.getBBox(), l = r.nextElementSibling.getBBox();
			return l.x < x.x || l.x + l.width > x.x + x.width ? c.id + ': label wider than its box' : 'ok' }).join(',') })()`)
	if n := strings.Count(boxes, "ok"); n < 10 || strings.Count(boxes, ",") != n-1 {
		t.Errorf("controller boxes: %s", boxes)
	}
	waitJS(t, b, "tour shown on a first visit", `!document.querySelector('[data-testid=tour]').hidden`, 5*time.Second)
	shot(t, b, "tour-first-ko")
	want := []struct{ box, text string }{
		{"client", "kubectl"}, {"apiserver", "SQLite"}, {"scheduler", "스케줄러"}, {"replicaset-controller", "컨트롤러"}, {"kubelet/node-1", "containerd"},
	}
	for i, w := range want {
		waitJS(t, b, fmt.Sprintf("stop %d outlines %s", i+1, w.box),
			fmt.Sprintf(`!!document.querySelector('#diagram [data-box=%q].tour-on')`, w.box), 5*time.Second)
		got := evalString(t, b, `document.querySelector('[data-testid=tour-stop]:not([hidden])').textContent`)
		if !strings.Contains(got, w.text) || !strings.Contains(got, fmt.Sprintf("%d / 5", i+1)) {
			t.Errorf("stop %d says %q, want %q and %d / 5", i+1, got, w.text, i+1)
		}
		run(t, b, "next", 5*time.Second, click(`[data-testid=tour-next]`))
	}
	waitJS(t, b, "tour closed after the last stop", `document.querySelector('[data-testid=tour]').hidden && !document.querySelector('#diagram .tour-on')`, 5*time.Second)
	run(t, b, "reload", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 20*time.Second)
	time.Sleep(300 * time.Millisecond) // tour.js runs at load: had it decided to show, it would have by now
	if evalString(t, b, `String(document.querySelector('[data-testid=tour]').hidden)`) != "true" {
		t.Fatal("the tour came back after it was finished")
	}
	run(t, b, "help", 5*time.Second, js(`(document.getElementById('help').showModal(), true)`), click(`[data-testid=tour-start]`))
	waitJS(t, b, "tour again from help", `!document.querySelector('[data-testid=tour]').hidden && document.querySelector('[data-testid=tour]').dataset.at === "1"`, 5*time.Second)
	run(t, b, "close", 5*time.Second, click(`[data-testid=tour-close]`))
	waitJS(t, b, "closed", `document.querySelector('[data-testid=tour]').hidden`, 5*time.Second)
}
