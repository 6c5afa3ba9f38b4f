// Package probes runs liveness, readiness and startup probes the way the kubelet does:
// one worker per container and probe, waiting initialDelaySeconds, probing every
// periodSeconds with timeoutSeconds, and flipping its result only after
// successThreshold successes or failureThreshold failures in a row.
package probes

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Kind is which probe a worker runs.
type Kind string

const (
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
	Startup   Kind = "Startup"
)

// Result of one probe run.
type Result int

const (
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Execer runs a command in a container and returns its exit code and output.
type Execer interface {
	ExecProbe(ctx context.Context, containerID string, cmd []string) (exitCode int, output []byte, err error)
}

// Target is what a probe checks.
type Target struct {
	PodIP       string
	Container   *corev1.Container
	ContainerID string
	Exec        Execer
}

// Run probes once and says why it failed, in the words `kubectl describe` shows.
func Run(ctx context.Context, p *corev1.Probe, t Target) (Result, string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return runHTTP(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, t.Container)
		if err != nil {
			return Failure, err.Error()
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = t.PodIP
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return Failure, fmt.Sprintf("dial tcp %s: %v", net.JoinHostPort(host, strconv.Itoa(port)), shortNetErr(err))
		}
		c.Close()
		return Success, ""
	case p.Exec != nil:
		if t.Exec == nil {
			return Unknown, "exec probes are not supported here"
		}
		code, out, err := t.Exec.ExecProbe(ctx, t.ContainerID, p.Exec.Command)
		if ctx.Err() != nil {
			return Failure, fmt.Sprintf("command %q timed out", strings.Join(p.Exec.Command, " "))
		}
		if err != nil {
			return Failure, err.Error()
		}
		if code != 0 {
			msg := strings.TrimSpace(string(out))
			if msg == "" {
				msg = fmt.Sprintf("command %q exited with %d", strings.Join(p.Exec.Command, " "), code)
			}
			return Failure, msg
		}
		return Success, ""
	case p.GRPC != nil:
		return Unknown, "grpc probes are not supported by webkube"
	}
	return Unknown, "probe has no handler"
}

func runHTTP(ctx context.Context, g *corev1.HTTPGetAction, t Target, timeout time.Duration) (Result, string) {
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return Failure, err.Error()
	}
	host := g.Host
	if host == "" {
		host = t.PodIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if pu, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = pu.Path, pu.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Failure, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.32")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// Like the kubelet: probes don't verify certificates and don't keep connections.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return Failure, fmt.Sprintf("Get %q: %v", u.String(), shortNetErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Success, ""
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func shortNetErr(err error) error {
	var ue *url.Error
	for {
		if u, ok := err.(*url.Error); ok {
			ue = u
			err = ue.Err
			continue
		}
		break
	}
	return err
}

// resolvePort turns a probe's port (number or container port name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container", p.StrVal)
}

// Update is a worker's result after its thresholds, sent when it changes and after each
// failure (so the kubelet can record Unhealthy events).
type Update struct {
	Kind    Kind
	Result  Result // the thresholded result
	Probe   Result // this run's raw result
	Message string // why this run failed
}

// Worker probes one container periodically.
type Worker struct {
	kind   Kind
	probe  *corev1.Probe
	target Target
	now    func() time.Time
	report func(Update)

	mu     sync.Mutex
	result Result
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWorker makes a worker; report is called from the worker's goroutine. The initial
// result is what Kubernetes assumes before the first run: readiness false, liveness and
// startup success (a container isn't killed before its probe has run).
func NewWorker(kind Kind, p *corev1.Probe, t Target, report func(Update)) *Worker {
	w := &Worker{kind: kind, probe: p, target: t, report: report, now: time.Now, done: make(chan struct{})}
	if kind == Readiness {
		w.result = Failure
	} else {
		w.result = Success
	}
	return w
}

// Assume sets the result the worker holds until its own runs pass a threshold; call it
// before Start. A restarted kubelet keeps a running container as ready as it was reported
// with it, so a restart alone does not take the pod out of its Services.
func (w *Worker) Assume(r Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.result = r
}

// Result is the current thresholded result.
func (w *Worker) Result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.result
}

// Start runs the worker until Stop or ctx ends. startedAt is when the container started;
// initialDelaySeconds counts from it.
func (w *Worker) Start(ctx context.Context, startedAt time.Time) {
	ctx, w.cancel = context.WithCancel(ctx)
	go w.loop(ctx, startedAt)
}

// Stop ends the worker and waits for it.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

func (w *Worker) loop(ctx context.Context, startedAt time.Time) {
	defer close(w.done)
	period := time.Duration(w.probe.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	success, failure := int(w.probe.SuccessThreshold), int(w.probe.FailureThreshold)
	if success <= 0 {
		success = 1
	}
	if failure <= 0 {
		failure = 3
	}
	delay := time.Until(startedAt.Add(time.Duration(w.probe.InitialDelaySeconds) * time.Second))
	if delay > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	var okRun, failRun int
	for {
		res, msg := Run(ctx, w.probe, w.target)
		if ctx.Err() != nil {
			return
		}
		if res != Unknown {
			w.mu.Lock()
			prev := w.result
			if res == Success {
				okRun, failRun = okRun+1, 0
				if okRun >= success {
					w.result = Success
				}
			} else {
				failRun, okRun = failRun+1, 0
				if failRun >= failure {
					w.result = Failure
				}
			}
			cur := w.result
			if cur == Failure && w.kind == Liveness {
				// The container will be restarted; count afresh for the next instance.
				failRun = 0
				w.result = Success
			}
			w.mu.Unlock()
			if cur != prev || res == Failure {
				w.report(Update{Kind: w.kind, Result: cur, Probe: res, Message: msg})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// ExecOutput is a small helper for Execer implementations: a bounded buffer, since a
// probe's output only feeds an event message.
type ExecOutput struct {
	bytes.Buffer
}

// Write keeps the first 10 KiB like the kubelet.
func (o *ExecOutput) Write(p []byte) (int, error) {
	if room := 10*1024 - o.Len(); room > 0 {
		if len(p) > room {
			o.Buffer.Write(p[:room])
		} else {
			o.Buffer.Write(p)
		}
	}
	return len(p), nil
}
