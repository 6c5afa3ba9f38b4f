package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/cluster/controllers/endpoints"
)

// layoutProblems lists, for the page as shown: horizontal scroll on the body, cards that
// scroll sideways (their tables cut off), and how tall the header pinned at the top is.
const layoutProblems = `(() => {
	const out = [];
	const de = document.documentElement;
	if (de.scrollWidth > innerWidth + 1) out.push('body scrolls sideways: ' + de.scrollWidth + ' > ' + innerWidth);
	document.querySelectorAll('main .card').forEach(c => {
		if (c.offsetParent && c.scrollWidth > c.clientWidth + 1)
			out.push('card ' + (c.dataset.testid || c.id || c.className) + ' scrolls sideways: ' + c.scrollWidth + ' > ' + c.clientWidth);
	});
	let pinned = 0; // what stays at the top while the page scrolls
	for (const sel of ['header.top', '.anim-pin']) {
		const e = document.querySelector(sel);
		if (!e) continue;
		const p = getComputedStyle(e).position;
		if (p === 'sticky' || p === 'fixed') pinned += e.getBoundingClientRect().height;
	}
	return JSON.stringify({problems: out, pinned: Math.round(pinned)});
})()`

// The pages fit a 1440×900 desktop and a 390×844 phone: no sideways scroll of the body or
// of any card (Conditions, Endpoints, the tables), and the header pinned at the top stays
// small on the phone.
func TestBrowserLayout(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eps, err := endpoints.NewController(endpoints.Config{Client: e.c.Client, Gate: e.c.Gate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	epCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	if err := eps.Start(epCtx); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo-with-a-long-name"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(3000)}}}}
	if _, err := e.c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	var errs consoleErrors // and no page reports an error, at either size
	errs.listen(t, b)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "pods running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 2`, 20*time.Second)
	pod := evalString(t, b, `document.querySelector('#tbody-pods tr[data-status=Running]').dataset.name`)
	pages := []string{"/", "/o/pod/default/" + pod, "/o/node/_/node-1", "/o/service/default/echo-with-a-long-name",
		"/o/replicaset/default/echo-rs", "/steps", "/editor"}
	for _, size := range []struct {
		w, h      int64
		mobile    bool
		maxPinned int
	}{{1440, 900, false, 80}, {390, 844, true, 150}} {
		run(t, b, "viewport", 5*time.Second, viewport(size.w, size.h, size.mobile))
		for _, p := range pages {
			name := fmt.Sprintf("%dx%d %s", size.w, size.h, p)
			run(t, b, "open "+name, 20*time.Second, chromedp.Navigate(e.url+p))
			waitJS(t, b, "live "+name, `!!(window.wk && window.wk.ready)`, 10*time.Second)
			if strings.HasPrefix(p, "/o/service") {
				waitJS(t, b, "endpoints "+name, `document.querySelectorAll('[data-testid=endpoint]').length === 2`, 10*time.Second)
			}
			var got struct {
				Problems []string
				Pinned   int
			}
			if err := json.Unmarshal([]byte(evalString(t, b, layoutProblems)), &got); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: pinned header %d px", name, got.Pinned)
			if l := errs.take(); len(l) > 0 {
				t.Errorf("%s: console errors:\n%s", name, strings.Join(l, "\n"))
			}
			for _, pr := range got.Problems {
				t.Errorf("%s: %s", name, pr)
			}
			if got.Pinned > size.maxPinned {
				t.Errorf("%s: the header pinned at the top takes %d px, want at most %d", name, got.Pinned, size.maxPinned)
			}
			if len(got.Problems) > 0 || got.Pinned > size.maxPinned || (size.mobile && len(p) < 2) {
				shot(t, b, fmt.Sprintf("layout-%dx%d-%s", size.w, size.h, strings.ReplaceAll(strings.Trim(p, "/"), "/", "-")))
			}
		}
	}
}

// contrasts lists each visible, enabled primary button's text-to-background contrast ratio
// (WCAG 2: relative luminance of sRGB colours, (L1+0.05)/(L2+0.05)).
const contrasts = `(() => {
	const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
	const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4) }); return 0.2126 * r + 0.7152 * g + 0.0722 * b };
	return JSON.stringify(Array.from(document.querySelectorAll('.primary')).filter(e => e.offsetParent && !e.disabled).map(e => {
		const st = getComputedStyle(e), a = lum(rgb(st.color)), b = lum(rgb(st.backgroundColor));
		return {what: e.dataset.testid || e.id, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
	}));
})()`

// Primary buttons reach WCAG AA (4.5:1) in light and dark mode, in step mode too (Next).
func TestBrowserPrimaryContrast(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk.ready`, 10*time.Second)
	run(t, b, "step mode", 10*time.Second, click(`#stepmode`))
	waitJS(t, b, "next enabled", `!document.querySelector('#step-next').disabled`, 10*time.Second)
	for _, dark := range []bool{false, true} {
		run(t, b, "colour scheme", 5*time.Second, darkMode(dark))
		var got []struct {
			What  string
			Ratio float64
		}
		if err := json.Unmarshal([]byte(evalString(t, b, contrasts)), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) < 2 {
			t.Fatalf("dark=%v: %d primary buttons shown, want the first-steps ones and Next", dark, len(got))
		}
		for _, c := range got {
			t.Logf("dark=%v %s: %.2f:1", dark, c.What, c.Ratio)
			if c.Ratio < 4.5 {
				t.Errorf("dark=%v: primary %s has contrast %.2f:1, want at least 4.5:1", dark, c.What, c.Ratio)
			}
		}
	}
	run(t, b, "step mode off", 10*time.Second, click(`#stepmode`))
}
