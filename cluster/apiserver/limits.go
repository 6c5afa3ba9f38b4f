package apiserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NewHTTPServer is the http.Server every webkube listener of HTTP uses: headers must
// arrive within 10s and an idle keep-alive connection closes after 90s. There is no
// ReadTimeout or WriteTimeout, which would cut watches, exec and log streams; request
// bodies get their own deadline (BodyDeadline).
func NewHTTPServer(h http.Handler, tlsCfg *tls.Config) *http.Server {
	return &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
}

// BodyDeadline gives every request body d to arrive; a slower client's reads fail
// (and the connection is dropped) instead of holding the handler as long as it likes.
// Requests without a body, such as watches and upgrades to exec streams, are untouched.
func BodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = withBodyDeadline(w, r.Body, d)
		}
		next.ServeHTTP(w, r)
	})
}

// withBodyDeadline sets the connection's (or HTTP/2 stream's) read deadline d from now
// and clears it once the body is read, so the rest of the request is not limited.
func withBodyDeadline(w http.ResponseWriter, body io.ReadCloser, d time.Duration) io.ReadCloser {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return body // a writer that cannot: tests' recorders
	}
	return &deadlineBody{ReadCloser: body, rc: rc, d: d}
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, bodyTooSlow(b.d)
	}
	if err != nil && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func bodyTooSlow(d time.Duration) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusRequestTimeout,
		Reason:  metav1.StatusReasonTimeout,
		Message: fmt.Sprintf("the request body did not arrive within %v; send it faster, or a smaller one", d)}}
}

// limitInFlight answers 429 with Retry-After: 1 when MaxRequestsInFlight reads or
// MaxMutatingRequestsInFlight writes are being served, as kube-apiserver does, so a
// flood of requests queues in the clients (client-go waits and retries) instead of in
// webkube. Long-running requests and health checks are not counted.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isHealthPath(r.URL.Path) || isLongRunning(r) {
			next.ServeHTTP(w, r)
			return
		}
		pool := s.reads
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			pool = s.writes
		}
		select {
		case pool <- struct{}{}:
			defer func() { <-pool }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			refuseBody(w, r)
			s.writeError(w, r, apierrors.NewTooManyRequests("Too many requests, please try again later.", 1))
		}
	})
}

// refuseBody closes an HTTP/1 connection after the answer when the request's body was
// not read: otherwise the server would first read the rest of it, as slowly as the client
// sends it, before answering.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
}

// isLongRunning reports a watch or a streaming subresource (exec, attach, log,
// portforward, proxy), from the URL alone.
func isLongRunning(r *http.Request) bool {
	q := r.URL.Query()
	if queryBool(q, "watch") {
		return true
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(segs) > 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) > 3 && segs[0] == "apis":
		rest = segs[3:]
	default:
		return false
	}
	if rest[0] == "watch" {
		return true
	}
	if len(rest) == 5 && rest[0] == "namespaces" || len(rest) == 3 && rest[0] != "namespaces" {
		switch rest[len(rest)-1] {
		case "exec", "attach", "log", "portforward", "proxy":
			return true
		}
	}
	return false
}
