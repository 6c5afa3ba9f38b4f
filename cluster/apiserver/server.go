// Package apiserver serves the Kubernetes REST API (the subset webkube's objects need)
// on top of the store's revision log, so that /usr/bin/kubectl, client-go and every
// webkube component talk to it exactly as they would to kube-apiserver.
package apiserver

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"

	"webkube/cluster/crd"
	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// Config configures a Server.
type Config struct {
	Store store.Store
	// Token, when set, is required as "Authorization: Bearer <token>" on every API request;
	// the health endpoints stay open.
	Token string
	// ServiceCIDR is the range cluster IPs come from (default 10.96.0.0/16).
	ServiceCIDR string
	// NodePortRange is "min-max" (default 30000-32767).
	NodePortRange string
	// MaxRequestBodyBytes limits request bodies (default 3 MiB, as kube-apiserver).
	MaxRequestBodyBytes int64
	// BodyTimeout is how long a client may take to send a request body (default 30s);
	// a slower one gets 408. Requests without a body (watches, exec, logs) are not limited.
	BodyTimeout time.Duration
	// MaxRequestsInFlight and MaxMutatingRequestsInFlight bound the reads and the writes
	// being served at once (default 400 and 200, as kube-apiserver); past them a request
	// gets 429 with Retry-After: 1. Watches, exec, attach, logs, port-forward and proxy
	// are long-running and do not count.
	MaxRequestsInFlight         int
	MaxMutatingRequestsInFlight int
	// BookmarkInterval is how often a watch that asked for bookmarks gets one (default 30s).
	BookmarkInterval time.Duration
	// KubeletTLS is the client TLS config logs and exec are proxied to kubelets with: the
	// API server's client certificate and the CA kubelets' serving certificates come from
	// (certs.CA.KubeletClientTLS). Without it those requests are refused, never sent in clear.
	KubeletTLS *tls.Config
	// ClientCA verifies client certificates, as kube-apiserver's --client-ca-file: one it
	// signed stands for its subject; any other is refused with 401, not at the handshake
	// (LoadOrCreateTLS only asks for certificates). nil: certificates are no credential.
	ClientCA *x509.CertPool
	// EventTTL is how long an Event lives after its last update (default 1h, as
	// kube-apiserver's --event-ttl); older ones are deleted.
	EventTTL time.Duration
	// ServiceAccountKey signs service account tokens (TokenRequest) and verifies them as
	// credentials; without it neither is offered. ServiceAccountIssuer is their iss and
	// accepted audience (default DefaultIssuer).
	ServiceAccountKey    *rsa.PrivateKey
	ServiceAccountIssuer string
	Clock                clock.PassiveClock
	Logger               *slog.Logger
}

// Server is the API server. Create it with New, call Start, then serve Handler.
type Server struct {
	cfg   Config
	store store.Store
	clock clock.PassiveClock
	log   *slog.Logger

	ips   *ipAllocator
	ports *portAllocator

	// ctx ends when Start's context ends; long-running requests (watches) stop then,
	// so an http.Server can shut down without waiting for them.
	ctxMu sync.Mutex
	ctx   context.Context
	// activeNS caches which namespaces accept new objects.
	activeNS nsCache
	// events shares decoding and encoding of watch events between watchers and cache.
	events eventCache
	// cache holds every resource's current objects for lists and gets (watchcache).
	cache        *watchcache.Cache
	extraMetrics struct {
		mu sync.Mutex
		fs []func(io.Writer)
	}
	// requests counts answered requests for /metrics.
	requests requestCounts
	// nsKick wakes the namespace finalizer after a namespace is marked for deletion.
	nsKick chan struct{}
	// reads and writes hold a token per request in flight (limitInFlight).
	reads, writes chan struct{}
	// kubelets carries logs and exec to kubelets (nil without Config.KubeletTLS).
	kubelets http.RoundTripper
	// tokens signs and verifies service account tokens (nil without a key).
	tokens *tokenSigner
	// quotaLocks serialise each namespace's ResourceQuota admission.
	quotaLocks quotaLocks
	// authz decides every authenticated request (withAuthorization) and the access reviews.
	authz authorizer
	// crds is what the established CustomResourceDefinitions serve (crd.go).
	crds crdRegistry
	// converters convert custom objects between their CRD's versions (crd_conversion.go).
	converters *crd.Converters
}

// Version is what /version reports; kubectl picks its matching minor from it.
var Version = version.Info{
	Major: "1", Minor: "32", GitVersion: "v1.32.3", GitCommit: "webkube", GitTreeState: "clean",
	BuildDate: "2025-03-11T00:00:00Z", GoVersion: runtime.Version(), Compiler: runtime.Compiler,
	Platform: runtime.GOOS + "/" + runtime.GOARCH,
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: Config.Store is required")
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.96.0.0/16"
	}
	if cfg.NodePortRange == "" {
		cfg.NodePortRange = "30000-32767"
	}
	if cfg.MaxRequestBodyBytes == 0 {
		cfg.MaxRequestBodyBytes = 3 << 20
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.MaxRequestsInFlight == 0 {
		cfg.MaxRequestsInFlight = 400
	}
	if cfg.MaxMutatingRequestsInFlight == 0 {
		cfg.MaxMutatingRequestsInFlight = 200
	}
	if cfg.BookmarkInterval == 0 {
		cfg.BookmarkInterval = 30 * time.Second
	}
	if cfg.EventTTL == 0 {
		cfg.EventTTL = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ips, err := newIPAllocator(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("apiserver: service CIDR: %w", err)
	}
	ports, err := newPortAllocator(cfg.NodePortRange)
	if err != nil {
		return nil, fmt.Errorf("apiserver: node port range: %w", err)
	}
	var tokens *tokenSigner
	if cfg.ServiceAccountKey != nil {
		if cfg.ServiceAccountIssuer == "" {
			cfg.ServiceAccountIssuer = DefaultIssuer
		}
		if tokens, err = newTokenSigner(cfg.ServiceAccountKey, cfg.ServiceAccountIssuer); err != nil {
			return nil, fmt.Errorf("apiserver: service account key: %w", err)
		}
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, tokens: tokens,
		ips: ips, ports: ports, ctx: context.Background(), nsKick: make(chan struct{}, 1),
		kubelets: kubeletTransport(cfg.KubeletTLS),
		reads:    make(chan struct{}, cfg.MaxRequestsInFlight), writes: make(chan struct{}, cfg.MaxMutatingRequestsInFlight),
	}
	s.authz = rbacAuthorizer{s}
	if s.converters, err = crd.NewConverters(s); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	if s.cache, err = s.newWatchCache(); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	return s, nil
}

// Start loads the service IP and port allocations from the store, creates the
// namespaces and the `kubernetes` Service every cluster has, and runs the namespace
// finalizer until ctx ends. It returns once bootstrapping is done.
func (s *Server) Start(ctx context.Context) error {
	s.ctxMu.Lock()
	s.ctx = ctx
	s.ctxMu.Unlock()
	s.cache.Start(ctx) // loads in the background; lists wait for it
	if err := s.loadAllocations(ctx); err != nil {
		return fmt.Errorf("apiserver: loading service allocations: %w", err)
	}
	if err := s.bootstrap(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap: %w", err)
	}
	if err := s.bootstrapRBAC(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap RBAC: %w", err)
	}
	if err := s.bootstrapPriorityClasses(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap: %w", err)
	}
	go s.runNamespaceFinalizer(ctx)
	go s.runCRDController(ctx)
	go s.runEventReaper(ctx)
	return nil
}

func (s *Server) runCtx() context.Context {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	return s.ctx
}

// Handler serves the API, discovery, OpenAPI, /version and the health endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(p, s.serveHealth)
		mux.HandleFunc(p+"/", s.serveHealth)
	}
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, Version) })
	mux.HandleFunc("/version/", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, Version) })
	mux.HandleFunc("/api", s.serveAPI)
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/apis", s.serveAPI)
	mux.HandleFunc("/apis/", s.serveAPI)
	mux.HandleFunc("/openapi/v2", s.serveOpenAPIV2)
	mux.HandleFunc("/openapi/v3", s.serveOpenAPI)
	mux.HandleFunc("/openapi/v3/", s.serveOpenAPI)
	mux.HandleFunc("/metrics", s.serveMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoRoute)
	})
	return s.countRequests(s.withAuth(s.withImpersonation(s.withAuthorization(s.limitInFlight(mux)))))
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.CurrentRevision(r.Context()); err != nil {
		s.log.Warn("health check: store unavailable", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Without a token configured everyone is the admin (tests, a private socket); the
		// health endpoints are open to all, as system:public-info-viewer makes them.
		u := adminUser
		switch {
		case s.cfg.Token == "":
		case isHealthPath(r.URL.Path):
			u = anonymousUser
		default:
			if u = s.authenticate(r); u == nil {
				refuseBody(w, r)
				s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
				return
			}
		}
		r = r.WithContext(withUser(r.Context(), u))
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, withBodyDeadline(w, r.Body, s.cfg.BodyTimeout), s.cfg.MaxRequestBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func isHealthPath(p string) bool {
	for _, h := range []string{"/healthz", "/livez", "/readyz"} {
		if p == h || strings.HasPrefix(p, h+"/") {
			return true
		}
	}
	return false
}

// firstIP returns the first usable address of cidr (the `kubernetes` Service's IP).
func firstIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip := append(net.IP(nil), n.IP.To4()...)
	ip[3]++
	return ip, nil
}
