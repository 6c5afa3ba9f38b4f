package kubeletserver

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nhooyr.io/websocket"

	"webkube/cluster/certs"
	"webkube/runtime/containers"
)

// recordingRuntime counts what reached the runtime: a refused request must reach nothing.
type recordingRuntime struct{ calls atomic.Int32 }

func (r *recordingRuntime) LogPath(context.Context, string, bool) (string, error) {
	r.calls.Add(1)
	return "/nonexistent", nil
}
func (r *recordingRuntime) Done(string) <-chan struct{} { r.calls.Add(1); return nil }
func (r *recordingRuntime) Exec(context.Context, string, containers.ExecOptions) (int, error) {
	r.calls.Add(1)
	return 0, nil
}

func (r *recordingRuntime) Attach(context.Context, string, containers.AttachOptions) error {
	r.calls.Add(1)
	return nil
}

func authFixture(t *testing.T) (*fixture, *recordingRuntime) {
	t.Helper()
	rt := &recordingRuntime{}
	f := &fixture{}
	srv := f.serve(t, Config{Runtime: rt, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Lookup: LookupFunc(func(context.Context, string, string, string) (string, error) { return "id", nil })})
	t.Cleanup(func() { srv.Close() })
	return f, rt
}

// clientWith is an HTTPS client presenting cert (none if nil) and trusting f's CA.
func clientWith(f *fixture, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: f.ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

// TestStrangersAreRefused is issue 9's first open door at the kubelet's own port: logs and
// exec answered anyone. Only the API server's certificate from the cluster CA gets in.
func TestStrangersAreRefused(t *testing.T) {
	f, rt := authFixture(t)
	other, err := certs.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueTLS(certs.Request{CommonName: certs.KubeletClientUser, Organization: []string{certs.MastersGroup}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A certificate from the right CA for someone else (a node, say) is authenticated
	// but not allowed.
	node, err := f.ca.IssueTLS(certs.Request{CommonName: "system:node:node-2", Organization: []string{"system:nodes"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs := f.url + "/containerLogs/default/p/c"
	exec := "wss" + strings.TrimPrefix(f.url, "https") + "/exec/default/p/c?command=id&stdout=true"

	t.Run("ErrNoCertificate", func(t *testing.T) {
		expectHandshakeRefused(t, clientWith(f, nil), logs, exec)
	})
	t.Run("ErrOtherCA", func(t *testing.T) {
		expectHandshakeRefused(t, clientWith(f, &foreign), logs, exec)
	})
	t.Run("ErrPlainHTTP", func(t *testing.T) {
		resp, err := http.Get("http" + strings.TrimPrefix(logs, "https"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatalf("plain http got %d", resp.StatusCode)
			}
		}
	})
	t.Run("ErrNotTheAPIServer", func(t *testing.T) {
		c := clientWith(f, &node)
		resp, err := c.Get(logs)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), `user \"system:node:node-2\" may not use the kubelet API`) {
			t.Fatalf("got %d %s", resp.StatusCode, b)
		}
		ws, resp, err := websocket.Dial(context.Background(), exec, &websocket.DialOptions{HTTPClient: c, Subprotocols: []string{"v5.channel.k8s.io"}})
		if err == nil {
			ws.CloseNow()
			t.Fatal("exec upgraded for a node's certificate")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("exec: %v %v", resp, err)
		}
	})
	t.Run("ErrOnlyTheAPIServersName", func(t *testing.T) {
		// An approved CertificateSigningRequest gets a certificate from the cluster CA with
		// any common name, the API server's too; only system:masters, which the API server
		// never lets a request ask for, opens the kubelet.
		named, err := f.ca.IssueTLS(certs.Request{CommonName: certs.KubeletClientUser, Organization: []string{"dev"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := clientWith(f, &named).Get(logs)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", resp.StatusCode)
		}
	})
	t.Run("ErrServedWithoutTLS", func(t *testing.T) {
		// Mounted behind a plain listener by mistake, the handler still refuses.
		hs := httptest.NewServer(mustServer(t, f, rt))
		defer hs.Close()
		resp, err := http.Get(hs.URL + "/containerLogs/default/p/c")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", resp.StatusCode)
		}
	})
	if n := rt.calls.Load(); n != 0 {
		t.Fatalf("%d refused requests reached the runtime", n)
	}
	t.Run("OK", func(t *testing.T) {
		code, _ := f.get(t, logs)
		if code != http.StatusOK || rt.calls.Load() == 0 {
			t.Fatalf("the API server's certificate got %d (runtime calls %d)", code, rt.calls.Load())
		}
	})
}

func expectHandshakeRefused(t *testing.T, c *http.Client, logs, exec string) {
	t.Helper()
	resp, err := c.Get(logs)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("logs answered %d", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("logs: want a certificate error from the handshake, got %v", err)
	}
	ws, _, err := websocket.Dial(context.Background(), exec, &websocket.DialOptions{HTTPClient: c, Subprotocols: []string{"v5.channel.k8s.io"}})
	if err == nil {
		ws.CloseNow()
		t.Fatal("exec upgraded")
	}
}

func mustServer(t *testing.T, f *fixture, rt Runtime) *Server {
	t.Helper()
	cert, err := f.ca.IssueTLS(certs.Request{CommonName: "system:node:test", Hosts: []string{"127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Runtime: rt, Certificate: cert, ClientCAs: f.ca.Pool(),
		Lookup: LookupFunc(func(context.Context, string, string, string) (string, error) { return "id", nil })})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigAndListen(t *testing.T) {
	f, rt := authFixture(t)
	if _, err := New(Config{Runtime: rt, Lookup: LookupFunc(func(context.Context, string, string, string) (string, error) { return "", nil })}); err == nil ||
		!strings.Contains(err.Error(), "Certificate and ClientCAs are required") {
		t.Fatalf("New without certificates: %v", err)
	}
	s := mustServer(t, f, rt)
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		ln, err := s.Listen(addr)
		if err == nil {
			ln.Close()
			t.Fatalf("Listen(%q) served off loopback", addr)
		}
		if !strings.Contains(err.Error(), "not a loopback address") {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
	}
}
