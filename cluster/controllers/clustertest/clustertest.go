// Package clustertest starts a small real control plane for tests: webkube's API server
// on SQLite (apiservertest), the scheduler, the controllers and simulated nodes, all
// talking over HTTP as they do in webkube. It also runs /usr/bin/kubectl against it.
package clustertest

import (
	"context"
	"io"

	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers"
	"webkube/cluster/scheduler"
	"webkube/cluster/stepper"
	"webkube/internal/eventually"
	"webkube/runtime/simnode"
)

// Cluster is a running control plane with simulated nodes.
type Cluster struct {
	API       *apiservertest.Server
	Client    kubernetes.Interface
	Scheduler *scheduler.Scheduler
	Manager   *controllers.Manager
	Gate      *stepper.Gate
	Logger    *slog.Logger
	ctx       context.Context
	cacheDir  string
	reqs      *counter
	clients   *controllers.Clients
}

// Requests returns how many API requests the components made, by "VERB resource[/sub]".
func (c *Cluster) Requests() map[string]int {
	out := map[string]int{}
	if c.reqs == nil {
		return out
	}
	c.reqs.mu.Lock()
	defer c.reqs.mu.Unlock()
	for k, v := range c.reqs.n {
		out[k] = v
	}
	return out
}

// Options tunes Start.
type Options struct {
	Nodes []simnode.Config // Client is filled in
	// Unlimited lifts client-side rate limits (benchmarks).
	Unlimited bool
	// NoScheduler leaves pods unbound (tests that drive scheduling themselves).
	NoScheduler bool
	// CountRequests counts the components' API requests by verb and resource (see Requests).
	CountRequests bool
	// Wrap, if set, wraps the components' transport (tests inject faults with it).
	Wrap func(http.RoundTripper) http.RoundTripper
	// Logger receives the components' logs; default warnings and errors to stderr.
	Logger *slog.Logger
	// CronJobClock, if set, is the CronJob controller's clock: the test moves it to bring
	// a schedule due (the other components keep real time).
	CronJobClock clock.WithTicker
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
	rt http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /api/v1/namespaces/ns/pods/name/sub -> pods/sub
	res := ""
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			res = strings.Join(parts[i+2:], "/")
			break
		}
	}
	if rs := strings.Split(res, "/"); len(rs) == 3 {
		res = rs[0] + "/" + rs[2]
	} else if len(rs) >= 1 {
		res = rs[0]
	}
	c.mu.Lock()
	c.n[r.Method+" "+res]++
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

// Start brings a cluster up and tears it down at test cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	// client-go logs through klog; at teardown its event broadcasters complain about the
	// closed server. Tests read what matters from the API instead.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	api := apiservertest.Start(t)
	cfg := api.RESTConfig()
	if opts.Unlimited {
		cfg.QPS, cfg.Burst = -1, 0
	}
	var reqs *counter
	if opts.CountRequests {
		reqs = &counter{n: map[string]int{}}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { reqs.rt = rt; return reqs })
	}
	if opts.Wrap != nil {
		cfg.Wrap(opts.Wrap)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clustertest: client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		// Let components see ctx end before the API server (registered earlier) stops.
		time.Sleep(50 * time.Millisecond)
	})
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// Each component its own client and rate limit, as webkube's binary does.
	clients, err := controllers.NewClients(cfg)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	c := &Cluster{API: api, Client: client, clients: clients, Gate: stepper.New(), Logger: logger, ctx: ctx, cacheDir: t.TempDir(), reqs: reqs}
	factory := informers.NewSharedInformerFactory(clients.For("shared-informers"), 0)
	if !opts.NoScheduler {
		if c.Scheduler, err = scheduler.New(scheduler.Config{Client: clients.For("scheduler"), Informers: factory, Gate: c.Gate, Logger: logger}); err != nil {
			t.Fatalf("clustertest: %v", err)
		}
	}
	if c.Manager, err = controllers.NewManager(controllers.Config{Client: client, Clients: clients, Informers: factory, Gate: c.Gate, Logger: logger, CA: api.CA,
		CronJobClock: opts.CronJobClock}); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if err := c.Manager.Start(ctx); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if c.Scheduler != nil {
		if err := c.Scheduler.Start(ctx); err != nil {
			t.Fatalf("clustertest: %v", err)
		}
	}
	for _, n := range opts.Nodes {
		c.AddNode(t, n)
	}
	return c
}

// Context ends when the test does.
func (c *Cluster) Context() context.Context { return c.ctx }

// AddNode registers and starts one simulated node.
func (c *Cluster) AddNode(t testing.TB, cfg simnode.Config) *simnode.Node {
	t.Helper()
	cfg.Client = c.clients.For("kubelet-" + cfg.Name)
	if cfg.Logger == nil {
		cfg.Logger = c.Logger
	}
	n, err := simnode.New(cfg)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if err := n.Start(c.ctx); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return n
}

// Kubectl runs /usr/bin/kubectl against the cluster and returns its combined output.
func (c *Cluster) Kubectl(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		t.Fatalf("this test needs /usr/bin/kubectl (v1.32): install the kubectl package from pkgs.k8s.io: %v", err)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 60*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", c.API.KubeconfigPath, "--cache-dir", c.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", full...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustKubectl is Kubectl failing the test on error.
func (c *Cluster) MustKubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := c.Kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Eventually fails t unless cond holds within timeout, with the last message cond gave.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	eventually.That(t, timeout, "condition", cond)
}
