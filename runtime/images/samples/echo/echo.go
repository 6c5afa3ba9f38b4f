// Package echo is the program inside webkube's built-in ghcr.io/subicura/echo:v1 image: an
// HTTP server that answers every request with what it received, so a learner sees which pod
// answered and what reached it. It runs as `webkube sample echo`.
package echo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Main runs the echo server until SIGTERM or SIGINT. Flags: -port (default $PORT or 3000).
func Main(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	port := fs.String("port", envOr("PORT", "3000"), "TCP port to listen on")
	drain := fs.Duration("drain", time.Second, "how long to keep serving after SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sig, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		return err
	}
	logger := log.New(os.Stdout, "", log.LstdFlags)
	// Keep answering for a moment after SIGTERM: the pod leaves the Service's endpoints
	// at the same time it is told to stop, and proxies need that moment to stop sending
	// it new connections (what a preStop sleep does in real deployments).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sig.Done()
		logger.Printf("SIGTERM: serving %s more before shutting down", *drain)
		time.Sleep(*drain)
		cancel()
	}()
	return Serve(ctx, ln, logger)
}

// Serve answers on ln until ctx ends, logging one line per request.
func Serve(ctx context.Context, ln net.Listener, logger *log.Logger) error {
	host, _ := os.Hostname()
	srv := &http.Server{Handler: Handler(host, logger), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("echo server listening on %s (hostname %s)", ln.Addr(), host)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Printf("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// UnhealthyPath is the switch that makes this echo server answer 503 to every request
// from then on, until the process restarts. The dashboard's "make a probe fail" requests
// it from inside the container, so an httpGet probe fails for real and the learner sees
// the kubelet act on it (a liveness restart heals it: the new process starts healthy).
const UnhealthyPath = "/_webkube/unhealthy"

// Handler writes back the request as text: who answered, the request line, the headers.
func Handler(hostname string, logger *log.Logger) http.Handler {
	var unhealthy atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Printf("%s %s %s from %s", r.Method, r.URL.RequestURI(), r.Proto, r.RemoteAddr)
		if r.URL.Path == UnhealthyPath {
			unhealthy.Store(true)
			logger.Printf("unhealthy from now on: every request gets 503")
			_, _ = w.Write([]byte("unhealthy from now on\n"))
			return
		}
		if unhealthy.Load() {
			http.Error(w, "unhealthy (made to fail through "+UnhealthyPath+")", http.StatusServiceUnavailable)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hostname: %s\n", hostname)
		if pod := os.Getenv("POD_NAME"); pod != "" {
			fmt.Fprintf(&b, "Pod: %s\n", pod)
		}
		fmt.Fprintf(&b, "\nRequest: %s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
		fmt.Fprintf(&b, "Host: %s\nRemote: %s\n\nHeaders:\n", r.Host, r.RemoteAddr)
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range r.Header[k] {
				fmt.Fprintf(&b, "  %s: %s\n", k, v)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(b.String()))
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
