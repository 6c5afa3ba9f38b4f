package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// /metrics in Prometheus' text format: the store's revisions and size, and requests by
// verb and code, as kube-apiserver's apiserver_request_total and etcd's db size.

// requestCounts counts answered requests by verb and status code.
type requestCounts struct {
	mu sync.Mutex
	n  map[[2]string]uint64
}

func (c *requestCounts) add(verb string, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[[2]string]uint64{}
	}
	c.n[[2]string{verb, fmt.Sprint(code)}]++
}

// statusRecorder notes the status code a handler sends.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (watches, exec).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		verb := strings.ToUpper(r.Method)
		if queryBool(r.URL.Query(), "watch") {
			verb = "WATCH"
		}
		s.requests.add(verb, max(rec.code, http.StatusOK))
	})
}

// sizer is a store that can tell its size on disk (store.SQLite).
// AddMetrics makes /metrics also carry what f writes (Prometheus text format): webkube's
// other components (the Service proxy's counters) reach any client through the API, as
// the dashboard reads them, attached or not.
func (s *Server) AddMetrics(f func(w io.Writer)) {
	s.extraMetrics.mu.Lock()
	s.extraMetrics.fs = append(s.extraMetrics.fs, f)
	s.extraMetrics.mu.Unlock()
}

type sizer interface{ DiskSize() (int64, error) }

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	if rev, err := s.store.CurrentRevision(r.Context()); err == nil {
		gauge("webkube_store_revision", "The newest revision (resourceVersion) written.", rev)
	}
	gauge("webkube_store_compacted_revision", "The oldest revision lists and watches may still ask for.", s.store.CompactedRevision())
	if sz, ok := s.store.(sizer); ok {
		if n, err := sz.DiskSize(); err == nil {
			gauge("webkube_store_size_bytes", "Bytes the store takes on disk (database and write-ahead log).", n)
		}
	}
	gauge("webkube_watch_cache_revision", "The revision the watch cache has reached.", s.cache.Revision())
	b.WriteString("# HELP apiserver_request_total Requests answered, by verb and HTTP status code.\n# TYPE apiserver_request_total counter\n")
	s.requests.mu.Lock()
	lines := make([]string, 0, len(s.requests.n))
	for k, v := range s.requests.n {
		lines = append(lines, fmt.Sprintf("apiserver_request_total{verb=%q,code=%q} %d\n", k[0], k[1], v))
	}
	s.requests.mu.Unlock()
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, ""))
	s.extraMetrics.mu.Lock()
	extra := append([]func(io.Writer){}, s.extraMetrics.fs...)
	s.extraMetrics.mu.Unlock()
	for _, f := range extra {
		f(&b)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
