package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"webkube/cluster/apiserver"
	"webkube/cluster/certs"
	"webkube/cluster/controllers"
	"webkube/cluster/controllers/endpoints"
	"webkube/cluster/controllers/serviceaccount"
	"webkube/cluster/controllers/volume"
	"webkube/cluster/dns"
	"webkube/cluster/ingress"
	"webkube/cluster/scheduler"
	"webkube/cluster/serviceproxy"
	"webkube/cluster/stepper"
	"webkube/cluster/store"
	"webkube/runtime/kubelet"
	"webkube/runtime/simnode"
	"webkube/web"
	"webkube/web/lessons"
)

// Main is a running webkube: every component, wired the way a Kubernetes cluster is,
// each talking to the API server through client-go.
type Main struct {
	Config Config
	Logger *slog.Logger

	store     *store.SQLite
	ca        *certs.CA
	api       *apiserver.Server
	apiHTTP   *http.Server
	apiPort   string          // the port --api-addr got; pods reach the API at the `kubernetes` ClusterIP on it
	saKey     *rsa.PrivateKey // signs service account tokens (<data-dir>/pki/sa.key)
	apiCA     []byte          // what clients trust for the API server (pods get it as ca.crt)
	dashboard *http.Server
	cancel    context.CancelFunc
	closers   []func()
	client    kubernetes.Interface // webkube's own requests (node helpers)
	clients   *controllers.Clients // every component's own client and rate limit
	kubelets  map[string]*kubelet.Kubelet
	unlock    func() // releases the data dir's lock (see lockDataDir)
}

// Run starts everything and returns once it serves; Close stops it. The phases run in the
// order a cluster comes up: storage, the API server, the control plane talking to it, the
// nodes and their network, and last the dashboard that watches them all.
func (m *Main) Run(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(ctx)
	dataDir, err := m.openDataDir()
	if err != nil {
		return err
	}
	// The dashboard's address is taken first: a taken --addr fails before anything starts,
	// and nothing started later (a kubelet's server on a free port) can take it meanwhile.
	dashLn, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	m.closers = append(m.closers, func() { _ = dashLn.Close() })
	clk := clock.RealClock{}
	token, err := m.openStore(ctx, dataDir, clk)
	if err != nil {
		return err
	}
	api, err := m.startAPI(ctx, dataDir, token, clk)
	if err != nil {
		return err
	}
	gate := stepper.New()
	shared := informers.NewSharedInformerFactory(m.clients.For("shared-informers"), 0)
	sched, err := m.startControlPlane(ctx, shared, gate, dataDir, clk)
	if err != nil {
		return err
	}
	var proxier *serviceproxy.Proxier
	if m.Config.Nodes > 0 {
		if proxier, err = m.startNetworkAndNodes(ctx, shared, gate, dataDir, clk); err != nil {
			return err
		}
		m.api.AddMetrics(proxyMetrics(proxier, shared.Core().V1().Services().Lister()))
	}
	if err := m.startSimulatedNodes(ctx, gate, clk); err != nil {
		return err
	}
	dashURL, err := m.startDashboard(ctx, dashLn, dashboardDeps{rest: api.rest, token: token, gate: gate, sched: sched,
		proxier: proxier, dataDir: dataDir, clock: clk})
	if err != nil {
		return err
	}
	m.Logger.Info("webkube is up",
		"dashboard", dashURL,
		"api", api.url,
		"kubeconfig", api.kubeconfig,
		"try", "kubectl --kubeconfig "+api.kubeconfig+" get pods")
	return nil
}

// openDataDir makes the data dir (private to root) and takes its lock: one webkube per
// data dir, since two would fight over the database, containerd and pods.
func (m *Main) openDataDir() (string, error) {
	dataDir, err := filepath.Abs(m.Config.DataDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return "", err
	}
	m.unlock = unlock
	return dataDir, nil
}

// openStore opens the SQLite store, the admin token and the CA: one CA for the API
// server's certificate, the kubelets' and the API server's client certificate to kubelets
// (which answer nobody else).
func (m *Main) openStore(ctx context.Context, dataDir string, clk clock.WithTicker) (token string, err error) {
	m.store, err = store.New(ctx, store.Config{Path: filepath.Join(dataDir, "webkube.db"), Logger: m.Logger, Clock: clk})
	if err != nil {
		return "", err
	}
	if token, err = loadOrCreateToken(filepath.Join(dataDir, "token")); err != nil {
		return "", err
	}
	if m.ca, err = certs.LoadOrCreateCA(filepath.Join(dataDir, "pki"), time.Now()); err != nil {
		return "", err
	}
	m.saKey, err = certs.LoadOrCreateServiceAccountKey(filepath.Join(dataDir, "pki"))
	return token, err
}

// apiEndpoint is where the API server listens and how its clients reach it.
type apiEndpoint struct {
	url, kubeconfig string
	rest            *rest.Config
}

// startAPI starts the API server on --api-addr with TLS, writes the admin kubeconfig and
// makes the components' clients, one each with its own rate limit.
func (m *Main) startAPI(ctx context.Context, dataDir, token string, clk clock.WithTicker) (apiEndpoint, error) {
	cfg := m.Config
	pki := filepath.Join(dataDir, "pki")
	kubeletTLS, err := m.ca.KubeletClientTLS(time.Now())
	if err != nil {
		return apiEndpoint{}, err
	}
	m.api, err = apiserver.New(apiserver.Config{Store: m.store, Token: token, ServiceCIDR: cfg.ServiceCIDR, KubeletTLS: kubeletTLS,
		ClientCA: m.ca.Pool(), ServiceAccountKey: m.saKey, Clock: clk, Logger: m.Logger})
	if err != nil {
		return apiEndpoint{}, err
	}
	if err := m.api.Start(ctx); err != nil {
		return apiEndpoint{}, err
	}
	apiHost, _, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return apiEndpoint{}, fmt.Errorf("--api-addr: %w", err)
	}
	inCluster, err := apiserver.KubernetesHosts(cfg.ServiceCIDR)
	if err != nil {
		return apiEndpoint{}, err
	}
	tlsCfg, caPEM, err := apiserver.LoadOrCreateTLS(m.ca, pki, append([]string{apiHost}, inCluster...), time.Now())
	if err != nil {
		return apiEndpoint{}, err
	}
	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return apiEndpoint{}, fmt.Errorf("api: %w", err)
	}
	m.apiHTTP = apiserver.NewHTTPServer(m.api.Handler(), tlsCfg)
	go func() {
		if err := m.apiHTTP.ServeTLS(apiLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("api server stopped", "err", err)
		}
	}()
	_, m.apiPort, _ = net.SplitHostPort(apiLn.Addr().String())
	m.apiCA = caPEM
	ep := apiEndpoint{url: "https://" + apiLn.Addr().String(), kubeconfig: filepath.Join(dataDir, "kubeconfig")}
	if err := apiserver.WriteKubeconfig(ep.kubeconfig, ep.url, token, caPEM); err != nil {
		return apiEndpoint{}, err
	}
	ep.rest = &rest.Config{Host: ep.url, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS: 500, Burst: 1000, UserAgent: "webkube",
		// client-go 1.32 defaults to protobuf; webkube's API server speaks JSON.
		ContentConfig: rest.ContentConfig{ContentType: "application/json"}}
	if m.clients, err = controllers.NewClients(ep.rest); err != nil {
		return apiEndpoint{}, err
	}
	m.client = m.clients.For("webkube")
	m.kubelets = map[string]*kubelet.Kubelet{}
	return ep, nil
}

// startControlPlane starts the scheduler, the controller manager and the endpoints
// controller, each a client of the API server.
func (m *Main) startControlPlane(ctx context.Context, shared informers.SharedInformerFactory, gate *stepper.Gate, dataDir string, clk clock.WithTicker) (*scheduler.Scheduler, error) {
	sched, err := scheduler.New(scheduler.Config{Client: m.clients.For("scheduler"), Informers: shared, Gate: gate, Clock: clk, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	mgr, err := controllers.NewManager(controllers.Config{Client: m.clients.For("controller-manager"), Clients: m.clients, Informers: shared, Gate: gate, Clock: clk, Logger: m.Logger, CA: m.ca})
	if err != nil {
		return nil, err
	}
	// With real nodes the `kubernetes` Service points at the API server's in-cluster
	// listener (see listenInCluster), so pods reach the API at its ClusterIP.
	epsCfg := endpoints.Config{Client: m.clients.For("endpoint-controller"), Informers: shared, Gate: gate, Logger: m.Logger}
	if m.Config.Nodes > 0 {
		ip, err := kubernetesIP(m.Config.ServiceCIDR)
		if err != nil {
			return nil, err
		}
		epsCfg.KubernetesEndpoint = net.JoinHostPort(ip, m.apiPort)
	}
	eps, err := endpoints.NewController(epsCfg)
	if err != nil {
		return nil, err
	}
	sa, err := serviceaccount.New(serviceaccount.Config{Client: m.clients.For("serviceaccount-controller"), Informers: shared, RootCA: m.apiCA, Gate: gate,
		Clock: clk, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	// The local-path provisioner keeps its volumes under the data dir, so they outlive pods
	// and webkube restarts, and `webkube reset` removes them with the rest.
	vol, err := volume.New(volume.Config{Client: m.clients.For(volume.Component), Informers: shared, VolumesDir: filepath.Join(dataDir, "volumes"),
		DefaultClass: true, Gate: gate, Clock: clk, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	starters := []interface{ Start(context.Context) error }{sched, mgr, eps, sa, vol}
	if m.Config.IngressAddr != "" {
		ing, err := ingress.New(ingress.Config{Client: m.clients.For(ingress.Component), Informers: shared, Addr: m.Config.IngressAddr,
			TLSAddr: m.Config.IngressTLSAddr, Gate: gate, Clock: clk, Logger: m.Logger})
		if err != nil {
			return nil, err
		}
		starters = append(starters, ing)
	}
	for _, c := range starters {
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
	}
	return sched, nil
}

// startNetworkAndNodes brings up Services (ClusterIPs live on a dummy interface so the
// proxy and DNS can listen on them and pods reach them through their default route),
// cluster DNS, the Service proxy and the real nodes.
func (m *Main) startNetworkAndNodes(ctx context.Context, shared informers.SharedInformerFactory, gate *stepper.Gate, dataDir string, clk clock.WithTicker) (*serviceproxy.Proxier, error) {
	cfg := m.Config
	dnsIP, err := dns.ClusterDNSIP(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	svcIface, err := serviceproxy.NewServiceInterface(cfg.BridgePrefix + "svc")
	if err != nil {
		return nil, err
	}
	if err := svcIface.AddAddress(dnsIP); err != nil {
		return nil, err
	}
	kubeIP, err := m.listenInCluster(svcIface)
	if err != nil {
		return nil, err
	}
	dnsSrv, err := dns.NewServer(dns.Config{Client: m.clients.For("dns"), Informers: shared, Addr: net.JoinHostPort(dnsIP, "53"),
		Logger: m.Logger, RegisterService: true})
	if err != nil {
		return nil, err
	}
	if err := dnsSrv.Start(ctx); err != nil {
		return nil, err
	}
	proxier, err := serviceproxy.New(serviceproxy.Config{Client: m.clients.For("proxy"), Informers: shared, NodeAddress: cfg.NodePortAddr,
		Addresses: svcIface, KeepAddresses: []string{dnsIP, kubeIP}, Mode: serviceproxy.Mode(cfg.ProxyMode), Instance: cfg.BridgePrefix, Clock: clk, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	if err := proxier.Start(ctx); err != nil {
		return nil, err
	}
	// On the way out: the proxy removes its rules and listeners once ctx ends; wait for it,
	// then drop the interface holding the ClusterIPs.
	m.closers = append(m.closers, func() {
		select {
		case <-proxier.Done():
		case <-time.After(5 * time.Second):
		}
		select {
		case <-dnsSrv.Done():
		case <-time.After(2 * time.Second):
		}
		if err := svcIface.Delete(); err != nil {
			m.Logger.Warn("remove service interface", "err", err)
		}
	})
	return proxier, m.startNodes(ctx, m.clients.For("kubelet"), gate, dataDir, dnsIP)
}

// kubernetesIP is the `kubernetes` Service's ClusterIP: the first address of the range.
func kubernetesIP(serviceCIDR string) (string, error) {
	hosts, err := apiserver.KubernetesHosts(serviceCIDR)
	if err != nil {
		return "", err
	}
	return hosts[0], nil
}

// listenInCluster serves the API also on the `kubernetes` ClusterIP (held by the Service
// interface) at --api-addr's port: the endpoint of the `kubernetes` Service, which pods
// reach through the Service proxy as KUBERNETES_SERVICE_HOST:443. --api-addr itself stays
// on loopback.
func (m *Main) listenInCluster(iface *serviceproxy.ServiceInterface) (string, error) {
	ip, err := kubernetesIP(m.Config.ServiceCIDR)
	if err != nil {
		return "", err
	}
	if err := iface.AddAddress(ip); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, m.apiPort))
	if err != nil {
		return "", fmt.Errorf("api (in-cluster): %w", err)
	}
	go func() {
		if err := m.apiHTTP.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("in-cluster api listener stopped", "err", err)
		}
	}()
	return ip, nil
}

// startSimulatedNodes adds --simulated-nodes nodes that run no containers (for scale).
func (m *Main) startSimulatedNodes(ctx context.Context, gate *stepper.Gate, clk clock.WithTicker) error {
	for i := 1; i <= m.Config.SimulatedNodes; i++ {
		n, err := simnode.New(simnode.Config{Client: m.clients.For(fmt.Sprintf("kubelet-sim-%d", i)), Name: fmt.Sprintf("sim-%d", i), Gate: gate, Clock: clk, Logger: m.Logger})
		if err != nil {
			return err
		}
		if err := n.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// dashboardDeps is what the dashboard is wired to.
type dashboardDeps struct {
	rest    *rest.Config
	token   string
	gate    *stepper.Gate
	sched   *scheduler.Scheduler
	proxier *serviceproxy.Proxier // nil without real nodes
	dataDir string
	clock   clock.WithTicker
}

// startDashboard serves the dashboard (and the health endpoints) on ln, --addr's listener,
// and returns its URL. A token is asked for only when it listens beyond loopback.
func (m *Main) startDashboard(ctx context.Context, ln net.Listener, d dashboardDeps) (string, error) {
	cfg := m.Config
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	health := echo.WrapHandler(m.api.Handler())
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		e.GET(p, health)
	}
	// The Gate is the dashboard's one way into webkube's components other than the API:
	// step mode holds the scheduler, controllers and kubelets before they act, and no API
	// can ask a cluster's components to wait. Attached (webkube dashboard) there is none,
	// and the page says step mode needs webkube's own components.
	dashCfg := web.Config{Client: m.clients.For("dashboard"), RESTConfig: d.rest, Gate: d.gate, Decisions: d.sched, Logger: m.Logger, Clock: d.clock,
		AllowedHosts: dashboardHosts(cfg.Addr, cfg.AllowedHosts)}
	progress, err := lessons.OpenSQLite(ctx, filepath.Join(d.dataDir, "webkube.db"))
	if err != nil {
		return "", err
	}
	m.closers = append(m.closers, func() { _ = progress.Close() })
	dashCfg.Progress = progress
	if !isLoopback(cfg.Addr) {
		dashCfg.Token = d.token
	}
	// The dashboard reads the Service proxy's counters from the API's /metrics (see
	// proxyMetrics), as it does attached to another webkube: no back-channel.
	dash, err := web.New(dashCfg)
	if err != nil {
		return "", err
	}
	dash.Register(e)
	if err := dash.Start(ctx); err != nil {
		return "", err
	}
	m.dashboard = apiserver.NewHTTPServer(apiserver.BodyDeadline(e, 30*time.Second), nil)
	go func() {
		if err := m.dashboard.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("dashboard stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// proxyMetrics writes the Service proxy's per-endpoint counters in Prometheus text format
// for the API server's /metrics: that is how the dashboard reads them, here and attached
// to this webkube from elsewhere (webkube dashboard --kubeconfig).
func proxyMetrics(p *serviceproxy.Proxier, services corelisters.ServiceLister) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "# HELP webkube_serviceproxy_counts_bytes 1 when the Service proxy counts bytes and open connections (userspace mode), 0 when connections only (iptables mode).\n# TYPE webkube_serviceproxy_counts_bytes gauge\nwebkube_serviceproxy_counts_bytes %d\n", map[bool]int{true: 1}[p.CountsBytes()])
		svcs, _ := services.List(labels.Everything())
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].Namespace+"/"+svcs[i].Name < svcs[j].Namespace+"/"+svcs[j].Name })
		families := []struct {
			name, typ, help string
			v               func(serviceproxy.EndpointStats) string
		}{
			{"connections_total", "counter", "Connections the Service proxy sent to the endpoint.", func(s serviceproxy.EndpointStats) string { return fmt.Sprint(s.Connections) }},
			{"active", "gauge", "Connections open to the endpoint now (userspace mode).", func(s serviceproxy.EndpointStats) string { return fmt.Sprint(s.Active) }},
			{"failed_total", "counter", "Connections to the endpoint that failed.", func(s serviceproxy.EndpointStats) string { return fmt.Sprint(s.Failed) }},
			{"bytes_in_total", "counter", "Bytes from clients to the endpoint (userspace mode).", func(s serviceproxy.EndpointStats) string { return fmt.Sprint(s.BytesIn) }},
			{"bytes_out_total", "counter", "Bytes from the endpoint to clients (userspace mode).", func(s serviceproxy.EndpointStats) string { return fmt.Sprint(s.BytesOut) }},
		}
		stats := make([][]serviceproxy.EndpointStats, len(svcs))
		for i, s := range svcs {
			stats[i] = p.Stats(s.Namespace, s.Name)
		}
		for _, f := range families {
			name := "webkube_serviceproxy_endpoint_" + f.name
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, f.help, name, f.typ)
			for i, s := range svcs {
				for _, st := range stats[i] {
					fmt.Fprintf(w, "%s{namespace=%q,service=%q,endpoint=%q} %s\n", name, s.Namespace, s.Name, st.Address, f.v(st))
				}
			}
		}
	}
}

// Close stops the servers and components. Containers keep running: a restarted webkube
// reattaches to them.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m.dashboard != nil {
		_ = m.dashboard.Shutdown(shutdown)
	}
	if m.apiHTTP != nil {
		_ = m.apiHTTP.Shutdown(shutdown)
	}
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	var err error
	if m.store != nil {
		err = m.store.Close()
	}
	if m.unlock != nil {
		m.unlock() // last: everything on the data dir is closed
	}
	return err
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dashboardHosts are the names the dashboard answers to besides loopback: --allowed-host,
// the host --addr names, and, when --addr is an unspecified address (0.0.0.0, ::), the
// addresses of this machine's interfaces, since the user then means to open it by those.
func dashboardHosts(addr string, extra []string) []string {
	hosts := append([]string(nil), extra...)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return hosts
	}
	ip := net.ParseIP(host)
	if host != "" && (ip == nil || !ip.IsUnspecified()) {
		return append(hosts, host)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return hosts
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			hosts = append(hosts, n.IP.String())
		}
	}
	return hosts
}

// loadOrCreateToken keeps one bearer token per data dir so kubeconfigs stay valid.
func loadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return tok, nil
}
