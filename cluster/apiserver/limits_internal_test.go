package apiserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// The read pool with a handler that holds requests until released: past the limit a
// read gets 429, watches and streams are not counted, writes have their own pool.
func TestLimitInFlightReads(t *testing.T) {
	s := &Server{reads: make(chan struct{}, 2), writes: make(chan struct{}, 1)}
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	h := s.limitInFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	hold := func(method, path string) {
		wg.Add(1)
		go func() { defer wg.Done(); serve(method, path) }()
		<-entered
	}
	hold("GET", "/api/v1/namespaces/default/pods")
	hold("GET", "/apis/apps/v1/deployments")
	if rec := serve("GET", "/api/v1/pods"); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("third read: %d %q, want 429 with Retry-After: 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	for _, p := range []string{"/api/v1/pods?watch=true", "/api/v1/watch/pods", "/api/v1/namespaces/d/pods/p/log",
		"/api/v1/namespaces/d/pods/p/exec", "/api/v1/namespaces/d/pods/p/portforward", "/api/v1/nodes/n/proxy"} {
		hold("GET", p) // not counted: reaches the handler although reads are full
	}
	hold("POST", "/api/v1/namespaces/default/configmaps")
	if rec := serve("PUT", "/api/v1/namespaces/default/configmaps/c"); rec.Code != 429 {
		t.Fatalf("second write: %d, want 429", rec.Code)
	}
	for _, p := range []string{"/api/v1/namespaces/d/pods/log", "/api/v1/namespaces/log"} {
		if isLongRunning(httptest.NewRequest("GET", p, nil)) {
			t.Errorf("%s counted as long-running (an object named log)", p)
		}
	}
	close(release)
	wg.Wait()
	if rec := serve("GET", "/api/v1/pods"); rec.Code != 200 {
		t.Fatalf("read after release: %d", rec.Code)
	}
}
