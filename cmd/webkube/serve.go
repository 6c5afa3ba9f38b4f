package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"webkube/cluster/apiserver"
	"webkube/cluster/certs"
	"webkube/cluster/controllers"
	"webkube/cluster/controllers/endpoints"
	"webkube/cluster/dns"
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
	dashboard *http.Server
	cancel    context.CancelFunc
	closers   []func()
	client    kubernetes.Interface
	kubelets  map[string]*kubelet.Kubelet
	unlock    func() // releases the data dir's lock (see lockDataDir)
}

// Run starts everything and returns once it serves; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(ctx)
	cfg := m.Config
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// One webkube per data dir: two would fight over the database, containerd and pods.
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	m.unlock = unlock
	clk := clock.RealClock{}

	m.store, err = store.New(ctx, store.Config{Path: filepath.Join(dataDir, "webkube.db"), Logger: m.Logger, Clock: clk})
	if err != nil {
		return err
	}
	token, err := loadOrCreateToken(filepath.Join(dataDir, "token"))
	if err != nil {
		return err
	}
	// One CA for the API server's certificate, the kubelets' and the API server's client
	// certificate to kubelets (which answer nobody else).
	pki := filepath.Join(dataDir, "pki")
	m.ca, err = certs.LoadOrCreateCA(pki, time.Now())
	if err != nil {
		return err
	}
	kubeletTLS, err := m.ca.KubeletClientTLS(time.Now())
	if err != nil {
		return err
	}
	m.api, err = apiserver.New(apiserver.Config{Store: m.store, Token: token, ServiceCIDR: cfg.ServiceCIDR, KubeletTLS: kubeletTLS,
		Clock: clk, Logger: m.Logger})
	if err != nil {
		return err
	}
	if err := m.api.Start(ctx); err != nil {
		return err
	}
	apiHost, _, err := net.SplitHostPort(cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	tlsCfg, caPEM, err := apiserver.LoadOrCreateTLS(m.ca, pki, []string{apiHost}, time.Now())
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	m.apiHTTP = apiserver.NewHTTPServer(m.api.Handler(), tlsCfg)
	go func() {
		if err := m.apiHTTP.ServeTLS(apiLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("api server stopped", "err", err)
		}
	}()
	apiURL := "https://" + apiLn.Addr().String()
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	if err := apiserver.WriteKubeconfig(kubeconfig, apiURL, token, caPEM); err != nil {
		return err
	}
	restCfg := &rest.Config{Host: apiURL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS: 500, Burst: 1000, UserAgent: "webkube",
		// client-go 1.32 defaults to protobuf; webkube's API server speaks JSON.
		ContentConfig: rest.ContentConfig{ContentType: "application/json"}}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	m.client = client
	m.kubelets = map[string]*kubelet.Kubelet{}

	gate := stepper.New()
	shared := informers.NewSharedInformerFactory(client, 0)
	sched, err := scheduler.New(scheduler.Config{Client: client, Informers: shared, Gate: gate, Clock: clk, Logger: m.Logger})
	if err != nil {
		return err
	}
	mgr, err := controllers.NewManager(controllers.Config{Client: client, Informers: shared, Gate: gate, Clock: clk, Logger: m.Logger})
	if err != nil {
		return err
	}
	eps, err := endpoints.NewController(endpoints.Config{Client: client, Informers: shared, Gate: gate, Logger: m.Logger})
	if err != nil {
		return err
	}
	if err := sched.Start(ctx); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return err
	}
	if err := eps.Start(ctx); err != nil {
		return err
	}
	var proxier *serviceproxy.Proxier
	if cfg.Nodes > 0 {
		// Services: ClusterIPs live on a dummy interface so the proxy and DNS can listen on
		// them and pods reach them through their default route.
		dnsIP, err := dns.ClusterDNSIP(cfg.ServiceCIDR)
		if err != nil {
			return err
		}
		svcIface, err := serviceproxy.NewServiceInterface(cfg.BridgePrefix + "svc")
		if err != nil {
			return err
		}
		if err := svcIface.AddAddress(dnsIP); err != nil {
			return err
		}
		dnsSrv, err := dns.NewServer(dns.Config{Client: client, Informers: shared, Addr: net.JoinHostPort(dnsIP, "53"),
			Logger: m.Logger, RegisterService: true})
		if err != nil {
			return err
		}
		if err := dnsSrv.Start(ctx); err != nil {
			return err
		}
		proxier, err = serviceproxy.New(serviceproxy.Config{Client: client, Informers: shared, NodeAddress: cfg.NodePortAddr,
			Addresses: svcIface, KeepAddresses: []string{dnsIP}, Mode: serviceproxy.Mode(cfg.ProxyMode), Instance: cfg.BridgePrefix, Clock: clk, Logger: m.Logger})
		if err != nil {
			return err
		}
		if err := proxier.Start(ctx); err != nil {
			return err
		}
		// On the way out: the proxy removes its rules and listeners once ctx ends; wait
		// for it, then drop the interface holding the ClusterIPs.
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
		if err := m.startNodes(ctx, client, gate, dataDir, dnsIP); err != nil {
			return err
		}
	}
	for i := 1; i <= cfg.SimulatedNodes; i++ {
		n, err := simnode.New(simnode.Config{Client: client, Name: fmt.Sprintf("sim-%d", i), Gate: gate, Clock: clk, Logger: m.Logger})
		if err != nil {
			return err
		}
		if err := n.Start(ctx); err != nil {
			return err
		}
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	health := echo.WrapHandler(m.api.Handler())
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		e.GET(p, health)
	}
	dashCfg := web.Config{Client: client, RESTConfig: restCfg, Gate: gate, Decisions: sched, Logger: m.Logger, Clock: clk,
		AllowedHosts: dashboardHosts(cfg.Addr, cfg.AllowedHosts)}
	progress, err := lessons.OpenSQLite(ctx, filepath.Join(dataDir, "webkube.db"))
	if err != nil {
		return err
	}
	m.closers = append(m.closers, func() { _ = progress.Close() })
	dashCfg.Progress = progress
	if !isLoopback(cfg.Addr) {
		dashCfg.Token = token
	}
	if proxier != nil {
		dashCfg.Traffic = web.TrafficFunc(func(ns, svc string) map[string]web.Traffic {
			out := map[string]web.Traffic{}
			for _, st := range proxier.Stats(ns, svc) {
				out[st.Address] = web.Traffic{Connections: st.Connections, Active: st.Active, Failed: st.Failed,
					BytesIn: st.BytesIn, BytesOut: st.BytesOut}
			}
			return out
		})
	}
	if cfg.Nodes > 0 {
		dashCfg.Killer = m
		dashCfg.Prober = m
	}
	dash, err := web.New(dashCfg)
	if err != nil {
		return err
	}
	dash.Register(e)
	if err := dash.Start(ctx); err != nil {
		return err
	}
	dashLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	m.dashboard = apiserver.NewHTTPServer(apiserver.BodyDeadline(e, 30*time.Second), nil)
	go func() {
		if err := m.dashboard.Serve(dashLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("dashboard stopped", "err", err)
		}
	}()
	m.Logger.Info("webkube is up",
		"dashboard", "http://"+dashLn.Addr().String(),
		"api", apiURL,
		"kubeconfig", kubeconfig,
		"try", "kubectl --kubeconfig "+kubeconfig+" get pods")
	return nil
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
