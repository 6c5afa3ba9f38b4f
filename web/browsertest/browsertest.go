// Package browsertest drives Debian's headless Chromium for the dashboard's browser tests
// (web's own, against an in-process control plane, and cmd/webkube's, against the real
// binary), so both start it, wait on it and save screenshots the same way.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Bin is Debian's Chromium.
const Bin = "/usr/bin/chromium"

// Start launches headless Chromium with a temp profile at 1280×800; it stops at cleanup.
func Start(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		t.Fatalf("browser tests need Chromium: apt-get install -y chromium (%v)", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Without these Chromium keeps dialling Google's hosts, which this machine refuses.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// As Puppeteer does: tabs the test is not looking at still run at full speed
		// (WEBKUBE_BG_TABS=1 lets Chromium throttle them as it normally would).
		chromedp.Flag("disable-renderer-backgrounding", os.Getenv("WEBKUBE_BG_TABS") == ""),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Run runs actions with a deadline, failing the test with what was being done (and a
// screenshot).
func Run(t testing.TB, ctx context.Context, what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		Shot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		t.Fatalf("%s: %v", what, err)
	}
}

// WaitJS waits until a JavaScript expression is true in the page.
func WaitJS(t testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			Shot(t, ctx, "timeout-"+strings.ReplaceAll(what, " ", "-"))
			logSteps(t, ctx)
			t.Fatalf("%s: not true after %v: %s (err %v)", what, timeout, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stepsText is the animator's story list as text, one line per story and per step (its
// flow, number and title), the last 80 lines: what a failed wait on the steps needs to be
// understood from CI's log alone.
const stepsText = `(() => { const el = document.getElementById('steps'); if (!el) return '';
  const out = [];
  el.querySelectorAll('.story-title, li').forEach(n => out.push(n.matches('li')
    ? '  ' + (n.dataset.flow || '') + ' ' + (n.dataset.n || '') + ' ' + ((n.querySelector('.st-title') || n).textContent.trim())
    : 'story: ' + n.textContent.trim()));
  return out.slice(-80).join('\n') })()`

func logSteps(t testing.TB, ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s, err := chromedp.Run(c, chromedp.Evaluate[string](stepsText)); err == nil && s != "" {
		t.Logf("the page's steps:\n%s", s)
	}
}

// Eval evaluates a JavaScript expression that yields a string.
func Eval(t testing.TB, ctx context.Context, expr string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return s
}

// Shot saves a full-page screenshot under $WEBKUBE_ARTIFACTS, else the test package's
// testdata/artifacts (gitignored): test artifacts, never committed.
func Shot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WEBKUBE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifacts: %v", err)
		return
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	fn := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(fn, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot %s", fn)
}

// TypeTerm types s into the xterm.js terminal through its input path (onData), as the
// keyboard does. (chromedp's KeyEvent sends each key as keydown and char, which xterm
// would see twice.)
func TypeTerm(s string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		b, _ := json.Marshal(s)
		_, err := chromedp.Evaluate[bool](`(() => { window.wk.term.term.input(`+string(b)+`, true); return true })()`)(ctx, t)
		return chromedp.Void{}, err
	}
}

// TermText is the terminal's whole buffer (scrollback and screen) as text.
const TermText = `window.wk.term.text()`

// TermListedRoot is true once `ls` in / has printed its listing in the terminal: bin, dev
// and proc after the command. ls prints columns top to bottom, so with two rows bin is
// followed by etc, not dev (a CI flake); and bin is not matched as a word: busybox's shell
// asks the terminal where its cursor is, and when xterm.js's answer (ESC[6;5R) comes after
// the command it is echoed right before the listing, as "^[[6;5Rbin" (another).
const TermListedRoot = `(s => /bin\b/.test(s) && /\bdev\b/.test(s) && /\bproc\b/.test(s))(` + TermText + `.split('ls').slice(1).join('ls'))`

// SetEditor replaces the YAML editor's text, as pasting it over a selection does.
func SetEditor(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		b, _ := json.Marshal(text)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](`(() => { if (!window.wk || !window.wk.editor) return false; window.wk.editor.set(`+string(b)+`); return true })()`)(ctx, t)
			if err != nil || ok {
				return chromedp.Void{}, err
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("the YAML editor did not load (window.wk.editor unset)")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
