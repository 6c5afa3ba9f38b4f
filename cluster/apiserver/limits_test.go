package apiserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver"
	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
)

const configMaps = "/api/v1/namespaces/default/configmaps"

func configMap(name string) string {
	return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"k":"` + strings.Repeat("x", 500) + `"}}`
}

// trickle sends body one byte every 100ms (a minute for these bodies), as a slow or
// malicious client would, until the server stops reading.
func trickle(body string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		for i := 0; i < len(body); i++ {
			if _, err := pw.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return pr
}

func clients(srv *apiservertest.Server) map[string]*http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CAData)
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	return map[string]*http.Client{"HTTP1": srv.HTTPClient(), "HTTP2": {Transport: h2, Timeout: 30 * time.Second}}
}

func post(t *testing.T, srv *apiservertest.Server, c *http.Client, body io.Reader, size int) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+configMaps, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(size)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("Content-Type", "application/json")
	return c.Do(req)
}

// An authenticated client that sends its body slowly is cut off after BodyTimeout
// instead of holding a connection (and a request slot) for as long as it likes.
func TestSlowBodyIsCut(t *testing.T) {
	srv := apiservertest.Start(t, apiservertest.WithConfig(func(c *apiserver.Config) { c.BodyTimeout = time.Second }))
	for name, c := range clients(srv) {
		t.Run(name, func(t *testing.T) {
			before := revision(t, srv)
			body := configMap("slow-" + strings.ToLower(name))
			start := time.Now()
			resp, err := post(t, srv, c, trickle(body), len(body))
			took := time.Since(start)
			t.Logf("%s: slow body cut after %v (err %v)", name, took.Round(time.Millisecond), err)
			if took > 5*time.Second {
				t.Fatalf("slow body held for %v, want it cut after ~1s", took)
			}
			if err == nil {
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestTimeout || !contains(string(out), "request body", "1s") {
					t.Fatalf("got %d %s, want 408 saying the body was too slow", resp.StatusCode, out)
				}
			}
			if after := revision(t, srv); after != before {
				t.Fatalf("store revision moved %d → %d", before, after)
			}
		})
	}
	t.Run("OKAfterwards", func(t *testing.T) {
		if code, out := call(t, srv, "POST", configMaps, "application/json", []byte(configMap("fast"))); code != 201 {
			t.Fatalf("normal create after slow ones: %d %s", code, out)
		}
	})
}

// Like kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight:
// past the limit a request gets 429 with Retry-After: 1 (client-go waits and retries);
// watches do not count.
func TestMaxRequestsInFlight(t *testing.T) {
	srv := apiservertest.Start(t, apiservertest.WithConfig(func(c *apiserver.Config) {
		c.MaxMutatingRequestsInFlight = 1
		c.BodyTimeout = 30 * time.Second
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := srv.Clientset()
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// A slow create holds the only mutating slot. It races the creates below for it: when
	// one of them is in flight first, it is refused at once and sent again.
	slow := configMap("holder")
	var holder struct {
		sync.Mutex
		pw *io.PipeWriter
	}
	release := func() {
		holder.Lock()
		defer holder.Unlock()
		holder.pw.CloseWithError(io.ErrUnexpectedEOF)
	}
	holder.pw = func() *io.PipeWriter { _, pw := io.Pipe(); return pw }()
	defer release()
	go func() {
		for ctx.Err() == nil {
			pr, pw := io.Pipe()
			holder.Lock()
			holder.pw = pw
			holder.Unlock()
			go func() { _, _ = pw.Write([]byte(slow[:10])) }()
			resp, err := post(t, srv, srv.HTTPClient(), pr, len(slow))
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests {
				return
			}
		}
	}()
	var resp *http.Response
	var out []byte
	n := 0
	eventually.That(t, 10*time.Second, "a second create refused while the first is in flight", func() (bool, string) {
		var err error
		n++
		second := configMap(fmt.Sprintf("second-%d", n))
		if resp, err = post(t, srv, srv.HTTPClient(), strings.NewReader(second), len(second)); err != nil {
			return false, err.Error()
		}
		out, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusTooManyRequests, resp.Status
	})
	st := status(t, out)
	if st.Reason != metav1.StatusReasonTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("429 without reason or Retry-After: %q %q %s", st.Reason, resp.Header.Get("Retry-After"), out)
	}
	// A refused request is answered at once, even if its body trickles in.
	start := time.Now()
	resp, err = post(t, srv, srv.HTTPClient(), trickle(configMap("refused")), len(configMap("refused")))
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || time.Since(start) > 3*time.Second {
		t.Fatalf("slow refused create: %v %v after %v, want 429 at once", err, resp, time.Since(start))
	}
	resp.Body.Close()
	// Reads have their own pool; the watch still serves.
	if code, out := call(t, srv, "GET", configMaps, "", nil); code != 200 {
		t.Fatalf("list while writes are full: %d %s", code, out)
	}
	// Once the slot frees, writes go through again.
	release()
	eventually.That(t, 10*time.Second, "a create once the slot is free", func() (bool, string) {
		code, out := call(t, srv, "POST", configMaps, "application/json", []byte(configMap("third")))
		return code == 201, string(out)
	})
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "ADDED" {
			t.Fatalf("watch got %v", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch saw no event")
	}
}

// BodyDeadline, which the dashboard's listener uses, cuts a slow body the same way.
func TestBodyDeadline(t *testing.T) {
	h := apiserver.BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), time.Second)
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := configMap("x")
	start := time.Now()
	resp, err := http.Post(srv.URL, "application/json", trickle(body))
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
	}
	if took > 5*time.Second || (err == nil && resp.StatusCode != http.StatusRequestTimeout) {
		t.Fatalf("slow body: %v after %v, want cut after ~1s", err, took)
	}
	// A body that arrives in time is read whole, and the connection is reused.
	for i := 0; i < 2; i++ {
		resp, err = http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("normal body: %v %v", err, resp)
		}
		resp.Body.Close()
	}
}
