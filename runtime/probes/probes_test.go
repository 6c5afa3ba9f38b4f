package probes

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/internal/eventually"
)

func hostPort(t *testing.T, addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func TestRunHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	var gotUA, gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotHeader = r.UserAgent(), r.Header.Get("X-Probe")
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	ip, port := hostPort(t, srv.Listener.Addr().String())
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: "/healthz", Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}}

	t.Run("OK", func(t *testing.T) {
		if res, msg := Run(context.Background(), p, Target{PodIP: ip, Container: c}); res != Success {
			t.Fatalf("got %v %q", res, msg)
		}
		if gotUA != "kube-probe/1.32" || gotHeader != "yes" {
			t.Fatalf("user agent %q, header %q", gotUA, gotHeader)
		}
	})
	t.Run("ErrStatus", func(t *testing.T) {
		status.Store(500)
		defer status.Store(200)
		res, msg := Run(context.Background(), p, Target{PodIP: ip, Container: c})
		if res != Failure || msg != "HTTP probe failed with statuscode: 500" {
			t.Fatalf("got %v %q", res, msg)
		}
	})
	t.Run("ErrUnknownPortName", func(t *testing.T) {
		q := p.DeepCopy()
		q.HTTPGet.Port = intstr.FromString("nope")
		if res, _ := Run(context.Background(), q, Target{PodIP: ip, Container: c}); res != Failure {
			t.Fatalf("got %v", res)
		}
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(1500 * time.Millisecond) }))
		defer slow.Close()
		sip, sport := hostPort(t, slow.Listener.Addr().String())
		q := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(sport))}}}
		start := time.Now()
		res, _ := Run(context.Background(), q, Target{PodIP: sip})
		if res != Failure || time.Since(start) > 1400*time.Millisecond {
			t.Fatalf("got %v after %s, want failure after the 1s timeout", res, time.Since(start))
		}
	})
}

func TestRunTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ip, port := hostPort(t, ln.Addr().String())
	p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	if res, msg := Run(context.Background(), p, Target{PodIP: ip}); res != Success {
		t.Fatalf("open port: %v %q", res, msg)
	}
	ln.Close()
	if res, _ := Run(context.Background(), p, Target{PodIP: ip}); res != Failure {
		t.Fatalf("closed port: %v", res)
	}
}

type fakeExec struct {
	code int
	out  string
	err  error
}

func (f fakeExec) ExecProbe(context.Context, string, []string) (int, []byte, error) {
	return f.code, []byte(f.out), f.err
}

func TestRunExec(t *testing.T) {
	p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}}}
	for _, tc := range []struct {
		name string
		ex   fakeExec
		want Result
		msg  string
	}{
		{"OK", fakeExec{code: 0}, Success, ""},
		{"ErrExitCode", fakeExec{code: 1, out: "cat: can't open '/tmp/ready': No such file or directory"}, Failure, "cat: can't open '/tmp/ready': No such file or directory"},
		{"ErrExec", fakeExec{err: errors.New("container not running")}, Failure, "container not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, msg := Run(context.Background(), p, Target{Exec: tc.ex})
			if res != tc.want || msg != tc.msg {
				t.Fatalf("got %v %q, want %v %q", res, msg, tc.want, tc.msg)
			}
		})
	}
}

// The worker flips only after failureThreshold failures / successThreshold successes.
func TestWorkerThresholds(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	ip, port := hostPort(t, srv.Listener.Addr().String())
	p := &corev1.Probe{PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 2, FailureThreshold: 2,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}}
	var mu sync.Mutex
	var updates []Update
	w := NewWorker(Readiness, p, Target{PodIP: ip}, func(u Update) {
		mu.Lock()
		updates = append(updates, u)
		mu.Unlock()
	})
	if w.Result() != Failure {
		t.Fatalf("readiness starts as failure, got %v", w.Result())
	}
	start := time.Now()
	w.Start(context.Background(), start)
	defer w.Stop()
	eventually.True(t, 5*time.Second, "readiness Success", func() bool { return w.Result() == Success })
	// Two successes are needed: the first run is at once, the second a period later.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("ready after %s, before successThreshold 2 could be met", d)
	}
	healthy.Store(false)
	flipped := time.Now()
	eventually.True(t, 5*time.Second, "readiness Failure", func() bool { return w.Result() == Failure })
	if d := time.Since(flipped); d < 900*time.Millisecond {
		t.Fatalf("not ready after %s, before failureThreshold 2 could be met", d)
	}
	mu.Lock()
	defer mu.Unlock()
	var failures int
	for _, u := range updates {
		if u.Probe == Failure {
			failures++
		}
	}
	if failures < 2 {
		t.Fatalf("want an update per failed run, got %+v", updates)
	}
}

// initialDelaySeconds holds the first run.
func TestWorkerInitialDelay(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	ip, port := hostPort(t, srv.Listener.Addr().String())
	p := &corev1.Probe{InitialDelaySeconds: 1, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}}
	w := NewWorker(Liveness, p, Target{PodIP: ip}, func(Update) {})
	w.Start(context.Background(), time.Now())
	defer w.Stop()
	time.Sleep(600 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("probed %d times during initialDelaySeconds", n)
	}
	eventually.True(t, 3*time.Second, "a probe after initialDelaySeconds", func() bool { return calls.Load() > 0 })
}
