package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"webkube/cluster/apiserver"
	"webkube/web"
)

// attachConfig is what `webkube dashboard` takes.
type attachConfig struct {
	Kubeconfig   string // "" : $KUBECONFIG, then ~/.kube/config, as kubectl
	Context      string // "" : the kubeconfig's current context
	Addr         string
	AllowedHosts []string
	logLevel     slog.Level
}

// runDashboard serves the dashboard for an existing cluster (kind, minikube, k3s, a
// cloud's) and starts nothing else: no store, no containerd, no control plane. Everything
// it shows and does goes through that cluster's API with the kubeconfig's credentials.
//
//	webkube dashboard [--kubeconfig PATH] [--context NAME] [--addr 127.0.0.1:8080]
func runDashboard(args []string) error {
	cfg, err := parseDashboardFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	srv, err := startAttached(ctx, cfg, logger)
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func parseDashboardFlags(args []string) (attachConfig, error) {
	var cfg attachConfig
	fs := flag.NewFlagSet("webkube dashboard", flag.ContinueOnError)
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to show (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&cfg.Context, "context", "", "the kubeconfig context to use (default: its current context)")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address of the dashboard (http); any non-loopback address requires a token, printed at start")
	fs.Var(listFlag{&cfg.AllowedHosts}, "allowed-host", "a name (or address) the dashboard may be opened as besides localhost, 127.0.0.1, [::1] and --addr's host (repeatable)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "webkube dashboard: unexpected argument %q\n", fs.Arg(0))
		return cfg, errUsage
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	return cfg, nil
}

// attachedREST reads the kubeconfig as kubectl does (--kubeconfig, else the KUBECONFIG
// list, else ~/.kube/config) and names the cluster for the page.
func attachedREST(cfg attachConfig) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	name := cfg.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if _, ok := raw.Contexts[name]; !ok && name != "" {
		return nil, "", fmt.Errorf("kubeconfig %s has no context %q", describeRules(rules), name)
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s: %w", describeRules(rules), err)
	}
	rc.UserAgent = "webkube-dashboard"
	rc.QPS, rc.Burst = 50, 100
	// JSON everywhere: webkube's own API server speaks no protobuf, and the dashboard
	// reads a little of every kind.
	rc.ContentType = "application/json"
	return rc, name + " (" + rc.Host + ")", nil
}

func describeRules(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	if p := rules.GetLoadingPrecedence(); len(p) > 0 {
		return fmt.Sprint(p)
	}
	return "(none)"
}

// startAttached builds the dashboard on the cluster's API and serves it on --addr.
func startAttached(ctx context.Context, cfg attachConfig, logger *slog.Logger) (*http.Server, error) {
	rc, cluster, err := attachedREST(cfg)
	if err != nil {
		return nil, err
	}
	// Gate, Decisions, Traffic and Progress stay nil: they are webkube's own components
	// (step mode, the scheduler's reasons, the Service proxy's counters, lesson progress in
	// its database), which another cluster does not have; the pages say so.
	dashCfg := web.Config{RESTConfig: rc, Cluster: cluster, Logger: logger, AllowedHosts: dashboardHosts(cfg.Addr, cfg.AllowedHosts)}
	if !isLoopback(cfg.Addr) {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		dashCfg.Token = hex.EncodeToString(raw)
	}
	dash, err := web.New(dashCfg)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	dash.Register(e)
	// Start runs the watches until ctx ends and returns once they synced; a cluster that
	// never lets them sync is an error, not a hang.
	started := make(chan error, 1)
	go func() { started <- dash.Start(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			return nil, err
		}
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("cluster %s: the dashboard's watches did not sync within 60s", cluster)
	}
	// Only once the caches synced: a test (or a script) waits for /readyz.
	e.GET("/readyz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	srv := apiserver.NewHTTPServer(apiserver.BodyDeadline(e, 30*time.Second), nil)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("dashboard stopped", "err", err)
		}
	}()
	attrs := []any{"dashboard", "http://" + ln.Addr().String(), "cluster", cluster}
	if dashCfg.Token != "" {
		attrs = append(attrs, "token", dashCfg.Token)
	}
	logger.Info("webkube dashboard is up", attrs...)
	return srv, nil
}
