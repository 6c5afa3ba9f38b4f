// Package apiservertest starts a real webkube API server over a real SQLite store on
// 127.0.0.1, for tests of every component that talks to the API.
package apiservertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"webkube/cluster/apiserver"
	"webkube/cluster/certs"
	"webkube/cluster/store"
)

// Server is a running API server. Stop happens through t.Cleanup.
type Server struct {
	// URL is the base URL, e.g. https://127.0.0.1:41234 (TLS, because kubectl sends
	// tokens only over https; CAData is the certificate to trust).
	URL    string
	CAData []byte
	// CA issued the server's certificate and its client certificate to kubelets; a test
	// kubelet serves a certificate from it (KubeletServing).
	CA *certs.CA
	// Token is the bearer token every request needs.
	Token string
	// KubeconfigPath is a kubeconfig file for /usr/bin/kubectl --kubeconfig.
	KubeconfigPath string
	// Store is the SQLite store under the server (replaced by Restart).
	Store *store.SQLite
	// API is the apiserver itself (replaced by Restart).
	API *apiserver.Server

	tls     *tls.Config
	mu      sync.Mutex
	opts    options
	dbPath  string
	addr    string
	httpSrv *http.Server
	cancel  context.CancelFunc
	done    chan struct{}
}

type options struct {
	cfg      apiserver.Config
	storeCfg store.Config
}

// Option changes the server or store configuration.
type Option func(*options)

// WithConfig edits the apiserver.Config before New (Store is set by Start).
func WithConfig(f func(*apiserver.Config)) Option { return func(o *options) { f(&o.cfg) } }

// WithStoreConfig edits the store.Config before store.New (Path is set by Start).
func WithStoreConfig(f func(*store.Config)) Option { return func(o *options) { f(&o.storeCfg) } }

// Start starts a server over a fresh database in t.TempDir() and stops it at cleanup.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Token: "test-token", dbPath: filepath.Join(dir, "webkube.db")}
	s.opts.cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, o := range opts {
		o(&s.opts)
	}
	ca, err := certs.LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatalf("apiservertest: %v", err)
	}
	s.CA = ca
	if s.opts.cfg.ClientCA == nil {
		s.opts.cfg.ClientCA = ca.Pool()
	}
	if s.opts.cfg.KubeletTLS == nil {
		if s.opts.cfg.KubeletTLS, err = ca.KubeletClientTLS(time.Now()); err != nil {
			t.Fatalf("apiservertest: %v", err)
		}
	}
	if s.opts.cfg.ServiceAccountKey == nil {
		if s.opts.cfg.ServiceAccountKey, err = serviceAccountKey(); err != nil {
			t.Fatalf("apiservertest: %v", err)
		}
	}
	tlsCfg, caPEM, err := apiserver.LoadOrCreateTLS(ca, dir, nil, time.Now())
	if err != nil {
		t.Fatalf("apiservertest: %v", err)
	}
	s.tls, s.CAData = tlsCfg, caPEM
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apiservertest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.URL = "https://" + s.addr
	s.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := apiserver.WriteKubeconfig(s.KubeconfigPath, s.URL, s.Token, s.CAData); err != nil {
		t.Fatalf("apiservertest: %v", err)
	}
	if err := s.start(ln); err != nil {
		t.Fatalf("apiservertest: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// serviceAccountKey is one signing key for every test server of the process: an RSA key
// takes a noticeable moment to make.
var serviceAccountKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func (s *Server) start(ln net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	scfg := s.opts.storeCfg
	scfg.Path = s.dbPath
	if scfg.Logger == nil {
		scfg.Logger = s.opts.cfg.Logger
	}
	st, err := store.New(ctx, scfg)
	if err != nil {
		cancel()
		ln.Close()
		return err
	}
	cfg := s.opts.cfg
	cfg.Store = st
	cfg.Token = s.Token
	api, err := apiserver.New(cfg)
	if err != nil {
		cancel()
		ln.Close()
		st.Close()
		return err
	}
	if err := api.Start(ctx); err != nil {
		cancel()
		ln.Close()
		st.Close()
		return err
	}
	srv := apiserver.NewHTTPServer(api.Handler(), s.tls)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("apiservertest: serve", "err", err)
		}
	}()
	s.mu.Lock()
	s.Store, s.API, s.httpSrv, s.cancel, s.done = st, api, srv, cancel, done
	s.mu.Unlock()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	srv, cancel, done, st := s.httpSrv, s.cancel, s.done, s.Store
	s.httpSrv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	cancel() // ends watches, so Shutdown does not wait for them
	ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	<-done
	st.Close()
}

// Restart stops the server and starts it again on the same address over the same
// database file, as a webkube restart would.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("apiservertest: relisten on %s: %v", s.addr, err)
	}
	if err := s.start(ln); err != nil {
		t.Fatalf("apiservertest: restart: %v", err)
	}
}

// RESTConfig is a client-go config for the server (JSON, bearer token).
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     s.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CAData},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/json",
			AcceptContentTypes: "application/json",
		},
		QPS:   1000,
		Burst: 2000,
	}
}

// KubeletServing is a serving certificate for a test kubelet on 127.0.0.1 that the
// server trusts; the kubelet's ClientCAs is CA.Pool().
func (s *Server) KubeletServing(t testing.TB) tls.Certificate {
	t.Helper()
	cert, err := s.CA.IssueTLS(certs.Request{CommonName: "system:node:test", Organization: []string{"system:nodes"},
		Hosts: []string{"127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatalf("apiservertest: %v", err)
	}
	return cert
}

// Clientset is a typed client for the server.
func (s *Server) Clientset() kubernetes.Interface {
	cs, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		panic(err) // only a malformed config fails here, and ours is fixed
	}
	return cs
}

// HTTPClient is a plain http.Client that trusts the server's certificate; requests
// still need the "Authorization: Bearer "+Token header.
func (s *Server) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAData)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
}
