package serviceproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// frontend serves one TCP port of one Service: a listener on ClusterIP:port and, for
// NodePort and LoadBalancer Services, one on the node address:nodePort, both feeding the
// same balancer.
type frontend struct {
	name        string // ns/svc:port for logs
	port        string // Service port name
	clusterAddr string
	nodeAddr    string
	bal         *balancer
	p           *Proxier

	mu  sync.Mutex
	lns map[string]net.Listener // by address
}

// listen opens whichever of the frontend's listeners are not open yet. Each stands on
// its own: a NodePort some other program holds does not keep the ClusterIP from serving;
// the error makes the caller retry the missing one later.
func (f *frontend) listen() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lns == nil {
		f.lns = map[string]net.Listener{}
	}
	var errs []error
	for _, addr := range []string{f.clusterAddr, f.nodeAddr} {
		if addr == "" || f.lns[addr] != nil {
			continue
		}
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.lns[addr] = ln
		f.p.log.Info("listening", "service", f.name, "addr", addr)
		go f.accept(ln)
	}
	return errors.Join(errs...)
}

// close stops accepting; connections already accepted carry on.
func (f *frontend) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.lns = nil
}

func (f *frontend) accept(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			f.p.log.Warn("accept failed", "service", f.name, "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go f.serve(c.(*net.TCPConn))
	}
}

// maxDialTries bounds how many endpoints one connection tries when dials fail, e.g. a pod
// that exited before its Endpoints entry went away.
const maxDialTries = 3

func (f *frontend) serve(client *net.TCPConn) {
	clientIP, _, _ := net.SplitHostPort(client.RemoteAddr().String())
	var tried map[string]bool
	for range maxDialTries {
		e := f.bal.pick(clientIP, tried)
		if e == nil {
			break
		}
		ctx, cancel := context.WithTimeout(f.p.ctx, f.p.dialTimeout)
		c, err := f.p.dialer.DialContext(ctx, "tcp4", e.addr)
		cancel()
		if err != nil {
			e.stats.failed.Add(1)
			f.p.log.Debug("endpoint dial failed", "service", f.name, "endpoint", e.addr, "err", err)
			if tried == nil {
				tried = map[string]bool{}
			}
			tried[e.addr] = true
			continue
		}
		f.pipe(client, c.(*net.TCPConn), e.stats)
		return
	}
	// No ready endpoint: reset at once so the client sees a refusal, not a hang.
	client.SetLinger(0)
	client.Close()
}

// pipe copies both ways between the client and the pod until both sides are done. Plain
// *net.TCPConn on both ends lets ReadFrom use splice(2), so bytes stay in the kernel.
func (f *frontend) pipe(client, pod *net.TCPConn, st *counters) {
	st.connections.Add(1)
	st.active.Add(1)
	defer st.active.Add(-1)
	untrack := f.p.track(client, pod)
	defer untrack()

	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := pod.ReadFrom(client)
		st.bytesIn.Add(uint64(n))
		if err != nil {
			abort(client, pod)
			return
		}
		pod.CloseWrite()
	}()
	n, err := client.ReadFrom(pod)
	st.bytesOut.Add(uint64(n))
	if err != nil {
		abort(client, pod)
	} else {
		client.CloseWrite()
	}
	<-done
	client.Close()
	pod.Close()
}

// abort ends both sides when one failed mid-stream (reset, proxy shutting down).
func abort(a, b *net.TCPConn) {
	a.Close()
	b.Close()
}

// conns tracks live connections so shutdown can close them.
type conns struct {
	mu sync.Mutex
	m  map[*net.TCPConn]struct{}
}

func (p *Proxier) track(cs ...*net.TCPConn) func() {
	p.live.mu.Lock()
	for _, c := range cs {
		p.live.m[c] = struct{}{}
	}
	p.live.mu.Unlock()
	return func() {
		p.live.mu.Lock()
		for _, c := range cs {
			delete(p.live.m, c)
		}
		p.live.mu.Unlock()
	}
}

func (p *Proxier) closeAll() {
	p.live.mu.Lock()
	defer p.live.mu.Unlock()
	for c := range p.live.m {
		c.Close()
	}
}
