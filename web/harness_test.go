package web

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
	"webkube/web/browsertest"
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
	return startEnvWith(t, clustertest.Options{}, nodes...)
}

// startEnvWith is startEnv on a cluster started with opts.
func startEnvWith(t testing.TB, opts clustertest.Options, nodes ...string) *env {
	t.Helper()
	c := clustertest.Start(t, opts)
	for _, n := range nodes {
		c.AddNode(t, simnode.Config{Name: n, Gate: c.Gate, Heartbeat: time.Second})
	}
	cfg := Config{Client: c.Client, RESTConfig: c.API.RESTConfig(), Gate: c.Gate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if c.Scheduler != nil {
		cfg.Decisions = c.Scheduler
	}
	d, err := New(cfg)
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

// The browser helpers are shared with cmd/webkube's dashboard test.
var (
	browser    = browsertest.Start
	run        = browsertest.Run
	shot       = browsertest.Shot
	waitJS     = browsertest.WaitJS
	evalString = browsertest.Eval
)
