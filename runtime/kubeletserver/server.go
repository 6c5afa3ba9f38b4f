// Package kubeletserver is the kubelet's own HTTP API for what the API server proxies to a
// node: container logs, exec and port-forward.
//
//	GET /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&timestamps&previous&sinceSeconds&sinceTime&limitBytes
//	GET /exec/{namespace}/{pod}/{container}?command=..&command=..&stdin&stdout&stderr&tty   (websocket v5.channel.k8s.io)
//	GET /stats/summary   (the node's and its running containers' CPU and memory, read by the metrics API)
//	GET /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty   (websocket, as exec)
//	POST /portForward/{namespace}/{pod}   (SPDY/3.1, portforward.k8s.io)
//
// The kubelet tells it which containerd container a pod's container is (Lookup); the
// containers.Runtime reads logs and runs the exec. It serves TLS on loopback and answers
// only the API server's client certificate (auth.go).
package kubeletserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
	"webkube/runtime/logs"
	"webkube/runtime/stats"
)

// Lookup finds the containerd container of a pod's container: the running instance, or the
// last one if none runs. Errors that are apierrors status errors (NotFound, BadRequest such
// as "container is waiting to start") reach the client with their code.
type Lookup interface {
	Lookup(ctx context.Context, namespace, pod, container string) (containerID string, err error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, namespace, pod, container string) (string, error)

// Lookup calls f.
func (f LookupFunc) Lookup(ctx context.Context, namespace, pod, container string) (string, error) {
	return f(ctx, namespace, pod, container)
}

// Runtime is what the server needs from containers.Runtime.
type Runtime interface {
	LogPath(ctx context.Context, id string, previous bool) (string, error)
	Done(id string) <-chan struct{}
	Exec(ctx context.Context, id string, opts containers.ExecOptions) (int, error)
	Attach(ctx context.Context, id string, opts containers.AttachOptions) error
}

// Stats is the kubelet's resource usage summary.
type Stats interface {
	Summary(ctx context.Context) (*stats.Summary, error)
}

// Config configures a Server.
type Config struct {
	Lookup  Lookup
	Runtime Runtime
	// Dialer reaches pods' ports for port-forward; without it port-forward is refused.
	Dialer PodDialer
	// Certificate is this kubelet's serving certificate; ClientCAs the CA that issues the
	// API server's client certificate. Both are required: no one else is answered.
	Certificate tls.Certificate
	ClientCAs   *x509.CertPool
	Clock       func() time.Time // for sinceSeconds; default time.Now
	// Stats answers /stats/summary; without it the endpoint is 404, as a kubelet with
	// stats turned off.
	Stats  Stats
	Logger *slog.Logger
}

// Server serves the kubelet API.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// handler is mux behind authenticate.
	handler http.Handler
}

// New returns a Server; it is an http.Handler.
func New(cfg Config) (*Server, error) {
	if cfg.Lookup == nil || cfg.Runtime == nil {
		return nil, errors.New("kubeletserver: Lookup and Runtime are required")
	}
	if len(cfg.Certificate.Certificate) == 0 || cfg.ClientCAs == nil {
		return nil, errors.New("kubeletserver: Certificate and ClientCAs are required (the kubelet answers only the API server)")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "kubeletserver"), mux: http.NewServeMux()}
	s.handler = s.authenticate(s.mux)
	s.mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	s.mux.HandleFunc("GET /exec/{namespace}/{pod}/{container}", s.exec)
	s.mux.HandleFunc("POST /exec/{namespace}/{pod}/{container}", s.exec)
	if cfg.Stats != nil {
		s.mux.HandleFunc("GET /stats/summary", s.summary)
	}
	s.mux.HandleFunc("GET /attach/{namespace}/{pod}/{container}", s.attach)
	s.mux.HandleFunc("POST /attach/{namespace}/{pod}/{container}", s.attach)
	s.mux.HandleFunc("GET /portForward/{namespace}/{pod}", s.portForward)
	s.mux.HandleFunc("POST /portForward/{namespace}/{pod}", s.portForward)
	return s, nil
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.cfg.Stats.Summary(r.Context())
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) lookup(r *http.Request) (string, error) {
	return s.cfg.Lookup.Lookup(r.Context(), r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"))
}

// logOptions parses the pods/log query as the API server validates it.
func (s *Server) logOptions(r *http.Request) (logs.Options, bool, error) {
	q := r.URL.Query()
	opts := logs.Options{TailLines: -1}
	var err error
	boolean := func(name string) bool {
		if err != nil || !q.Has(name) {
			return false
		}
		v := q.Get(name)
		if v == "" {
			return true
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("%s: %q is not a boolean", name, v)
		}
		return b
	}
	integer := func(name string, min int64) (int64, bool) {
		if err != nil || !q.Has(name) {
			return 0, false
		}
		n, perr := strconv.ParseInt(q.Get(name), 10, 64)
		if perr != nil || n < min {
			err = fmt.Errorf("%s: must be an integer >= %d", name, min)
			return 0, false
		}
		return n, true
	}
	opts.Follow = boolean("follow")
	opts.Timestamps = boolean("timestamps")
	previous := boolean("previous")
	if n, ok := integer("tailLines", 0); ok {
		opts.TailLines = n
	}
	if n, ok := integer("limitBytes", 1); ok {
		opts.LimitBytes = n
	}
	secs, hasSecs := integer("sinceSeconds", 1)
	if hasSecs {
		opts.SinceTime = s.cfg.Clock().Add(-time.Duration(secs) * time.Second)
	}
	if err == nil && q.Has("sinceTime") {
		if hasSecs {
			return opts, false, errors.New("at most one of sinceTime or sinceSeconds may be specified")
		}
		t, perr := time.Parse(time.RFC3339, q.Get("sinceTime"))
		if perr != nil {
			return opts, false, fmt.Errorf("sinceTime: %w", perr)
		}
		opts.SinceTime = t
	}
	return opts, previous, err
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	opts, previous, err := s.logOptions(r)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	id, err := s.lookup(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	path, err := s.cfg.Runtime.LogPath(r.Context(), id, previous)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	if _, err := os.Stat(path); err != nil {
		// Created but never started: no output yet.
		if !opts.Follow {
			w.Header().Set("Content-Type", "text/plain")
			return
		}
	}
	if previous {
		opts.Follow = false
	}
	opts.Done = s.cfg.Runtime.Done(id)
	w.Header().Set("Content-Type", "text/plain")
	if f, ok := w.(http.Flusher); ok && opts.Follow {
		opts.Flush = f.Flush
		// Send the headers now, so a client following a quiet container sees the stream open.
		w.WriteHeader(http.StatusOK)
		f.Flush()
	}
	if opts.Follow {
		// A follow may start before the first line was written.
		for i := 0; i < 50; i++ {
			if _, err := os.Stat(path); err == nil {
				break
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if err := logs.Read(r.Context(), path, opts, w); err != nil {
		s.log.Debug("reading logs", "path", path, "err", err)
	}
}

// writeStatus answers with a metav1.Status, which the API server can pass on to kubectl.
func writeStatus(w http.ResponseWriter, err error) {
	var st metav1.Status
	var api apierrors.APIStatus
	if errors.As(err, &api) {
		st = api.Status()
	} else {
		st = apierrors.NewInternalError(err).ErrStatus
	}
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	json.NewEncoder(w).Encode(st)
}
