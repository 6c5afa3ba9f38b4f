// Package counter is the program inside webkube's built-in ghcr.io/subicura/counter:latest
// image: an HTTP server that counts its visits in redis at $REDIS_HOST:$REDIS_PORT (6379).
// It runs as `webkube sample counter`.
package counter

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Main runs the counter until SIGTERM or SIGINT. Flags: -port (default $PORT or 3000).
func Main(args []string) error {
	fs := flag.NewFlagSet("counter", flag.ContinueOnError)
	port := fs.String("port", envOr("PORT", "3000"), "TCP port to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	redis := net.JoinHostPort(envOr("REDIS_HOST", "localhost"), envOr("REDIS_PORT", "6379"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		return err
	}
	logger := log.New(os.Stdout, "", log.LstdFlags)
	srv := &http.Server{Handler: Handler(redis, logger), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("counter listening on %s, counting in redis at %s", ln.Addr(), redis)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// Handler counts each request with INCR count and answers the new count. Redis is dialed
// per request, so the app works as soon as redis is up, whichever container started first.
func Handler(redisAddr string, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		n, err := Incr(r.Context(), redisAddr, "count")
		if err != nil {
			logger.Printf("%s %s: redis at %s: %v", r.Method, r.URL.Path, redisAddr, err)
			http.Error(w, fmt.Sprintf("redis at %s: %v", redisAddr, err), http.StatusServiceUnavailable)
			return
		}
		logger.Printf("%s %s: count %d", r.Method, r.URL.Path, n)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "count: %d\n", n)
	})
}

// Incr sends INCR key to the redis server at addr over RESP and returns the new value.
func Incr(ctx context.Context, addr, key string) (int64, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n", len(key), key); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, ":"):
		return strconv.ParseInt(line[1:], 10, 64)
	case strings.HasPrefix(line, "-"):
		return 0, errors.New(line[1:])
	default:
		return 0, fmt.Errorf("unexpected redis reply %q", line)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
