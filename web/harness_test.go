package web

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// env is a real control plane (API server on SQLite, scheduler, controllers, simulated
// nodes) with the dashboard served over real HTTP on loopback.
type env struct {
	c   *clustertest.Cluster
	d   *Dashboard
	srv *httptest.Server
	url string
}

func startEnv(t testing.TB, nodes ...string) *env {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{})
	for _, n := range nodes {
		c.AddNode(t, simnode.Config{Name: n, Gate: c.Gate, Heartbeat: time.Second})
	}
	d, err := New(Config{Client: c.Client, RESTConfig: c.API.RESTConfig(), Gate: c.Gate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HideBanner = true
	d.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{c: c, d: d, srv: srv, url: srv.URL}
}

// browser starts headless Chromium (Debian package chromium) with a temp profile.
func browser(t testing.TB) context.Context {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("browser tests need Chromium: apt-get install -y chromium (%v)", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// As Puppeteer does: tabs the test is not looking at still run at full speed.
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

// run runs chromedp actions with a deadline, failing the test with what was being done.
func run(t testing.TB, ctx context.Context, what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		shot(t, ctx, "failed-"+what)
		t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a full-page screenshot under web/testdata/artifacts (gitignored).
func shot(t testing.TB, ctx context.Context, name string) {
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
	fn := strings.ReplaceAll(t.Name(), "/", "_") + "-" + name + ".png"
	_ = os.WriteFile(filepath.Join(dir, fn), buf, 0o644)
}

// evalBool evaluates a JS expression until it is true or timeout passes.
func waitJS(t testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
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
			shot(t, ctx, "timeout-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: not true after %v: %s (err %v)", what, timeout, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evalString(t testing.TB, ctx context.Context, expr string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return s
}
