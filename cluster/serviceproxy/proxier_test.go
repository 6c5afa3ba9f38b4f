package serviceproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// backend is a TCP server on loopback that greets each connection with its name and then
// echoes lines until the client closes.
type backend struct {
	name  string
	ln    net.Listener
	conns atomic.Int64
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "%s\n", name)
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return b
}

func (b *backend) port() int32 { return int32(b.ln.Addr().(*net.TCPAddr).Port) }

// freePort finds a port free on ip now.
func freePort(t *testing.T, ip string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// endpointsOf lists ready and not-ready backends; each backend has its own port number, so
// each gets a subset, as pods with a named targetPort on different numbers would.
func endpointsOf(name string, ready, notReady []*backend) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	for _, b := range ready {
		ep.Subsets = append(ep.Subsets, corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: b.name}}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: b.port(), Protocol: corev1.ProtocolTCP}},
		})
	}
	for _, b := range notReady {
		ep.Subsets = append(ep.Subsets, corev1.EndpointSubset{
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "127.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: b.name}}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: b.port(), Protocol: corev1.ProtocolTCP}},
		})
	}
	return ep
}

type testService struct {
	cs          kubernetes.Interface
	p           *Proxier
	clusterAddr string
	nodeAddr    string
	cancel      context.CancelFunc
}

// setup runs a Proxier over a fake API with one Service "echo" on a loopback ClusterIP.
func setup(t *testing.T, clusterIP string, mutate func(*corev1.Service), ep *corev1.Endpoints) *testService {
	t.Helper()
	port := freePort(t, clusterIP)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	cs := fake.NewClientset(svc, ep)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(Config{Client: cs, NodeAddress: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-p.Done()
	})
	ts := &testService{cs: cs, p: p, clusterAddr: net.JoinHostPort(clusterIP, strconv.Itoa(int(port))), cancel: cancel}
	if np := svc.Spec.Ports[0].NodePort; np != 0 {
		ts.nodeAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(np)))
	}
	waitListening(t, ts.clusterAddr)
	for _, ss := range ep.Subsets {
		if len(ss.Addresses) > 0 {
			ts.settle(t, 1) // the probe went to an endpoint
			break
		}
	}
	return ts
}

// settle waits until the proxy has handed n connections in total to endpoints (picked,
// dialled, counted) and none is active, so counts that follow start from a known state.
func (ts *testService) settle(t *testing.T, n uint64) {
	t.Helper()
	var got uint64
	var active int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got, active = 0, 0
		for _, s := range ts.p.Stats("default", "echo") {
			got += s.Connections
			active += s.Active
		}
		if got >= n && active == 0 {
			return
		}
	}
	t.Fatalf("proxy handed over %d connections (%d active), want %d done", got, active, n)
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp4", addr)
		if err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}

// hit opens one connection through addr and returns the backend's name.
func hit(addr string, local string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestBalancesAcrossEndpoints(t *testing.T) {
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	nodePort := freePort(t, "127.0.0.1")
	ts := setup(t, "127.0.0.51", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = nodePort
	}, endpointsOf("echo", []*backend{a, b, c}, nil))

	for _, addr := range []string{ts.clusterAddr, ts.nodeAddr} {
		counts := map[string]int{}
		for range 300 {
			name, err := hit(addr, "")
			if err != nil {
				t.Fatalf("via %s: %v", addr, err)
			}
			counts[name]++
		}
		// Round robin over 3 endpoints, 300 sequential connections: 100 each.
		if counts["a"] != 100 || counts["b"] != 100 || counts["c"] != 100 {
			t.Errorf("via %s: connections per endpoint = %v, want 100 each", addr, counts)
		}
	}
	ts.settle(t, 601)
	stats := ts.p.Stats("default", "echo")
	if len(stats) != 3 {
		t.Fatalf("stats = %+v", stats)
	}
	for _, s := range stats {
		// The waitListening probe added one connection to one endpoint.
		if s.Connections < 200 || s.Connections > 201 || !s.Ready || s.Port != "http" || s.BytesOut < 200*2 {
			t.Errorf("stats %+v: want ~200 connections, ready, bytes counted", s)
		}
	}
}

func TestUnreadyEndpointGetsNoNewConnectionsAndInFlightFinishes(t *testing.T) {
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	ts := setup(t, "127.0.0.52", nil, endpointsOf("echo", []*backend{a, b, c}, nil))

	// Open connections until one lands on b, and keep it open.
	var inflight net.Conn
	var rd *bufio.Reader
	for range 6 {
		conn, err := net.Dial("tcp4", ts.clusterAddr)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		name, _ := r.ReadString('\n')
		if strings.TrimSpace(name) == "b" {
			inflight, rd = conn, r
			break
		}
		conn.Close()
	}
	if inflight == nil {
		t.Fatal("no connection reached b in two rounds")
	}
	defer inflight.Close()

	// b turns unready.
	changed := time.Now()
	if _, err := ts.cs.CoreV1().Endpoints("default").Update(context.Background(), endpointsOf("echo", []*backend{a, c}, []*backend{b}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := b.conns.Load()
	// Within 2 s (a readiness period is 10 s by default; the proxy reacts to the Endpoints
	// watch in milliseconds, the slack is for a loaded machine) 30 connections in a row
	// avoid b.
	streak := 0
	for streak < 30 {
		if time.Since(changed) > 2*time.Second {
			t.Fatalf("b still got new connections 2 s after turning unready")
		}
		name, err := hit(ts.clusterAddr, "")
		if err != nil {
			t.Fatal(err)
		}
		if name == "b" {
			streak = 0
			before = b.conns.Load()
		} else {
			streak++
		}
	}
	t.Logf("unready endpoint out of rotation %v after the Endpoints update", time.Since(changed))
	for range 60 {
		if name, err := hit(ts.clusterAddr, ""); err != nil || name == "b" {
			t.Fatalf("after the switch: got %q, %v", name, err)
		}
	}
	if n := b.conns.Load(); n != before {
		t.Errorf("b accepted %d connections while unready", n-before)
	}

	// The connection opened before still works end to end.
	inflight.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(inflight, "still here\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "still here\n" {
		t.Fatalf("in-flight connection broke: %q %v", line, err)
	}

	// b ready again: it gets traffic again.
	if _, err := ts.cs.CoreV1().Endpoints("default").Update(context.Background(), endpointsOf("echo", []*backend{a, b, c}, nil), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := false
	for i := 0; i < 300 && !got; i++ {
		name, err := hit(ts.clusterAddr, "")
		if err != nil {
			t.Fatal(err)
		}
		got = name == "b"
	}
	if !got {
		t.Error("b got no connections after turning ready again")
	}
}

func TestNoEndpointsRefusesAtOnce(t *testing.T) {
	a := startBackend(t, "a")
	ts := setup(t, "127.0.0.53", nil, endpointsOf("echo", nil, []*backend{a}))
	for range 5 {
		start := time.Now()
		_, err := hit(ts.clusterAddr, "")
		took := time.Since(start)
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("want a refusal, got %v", err)
		}
		if took > time.Second {
			t.Errorf("refusal took %v", took)
		}
	}
	if a.conns.Load() != 0 {
		t.Errorf("the unready endpoint got %d connections", a.conns.Load())
	}
}

func TestSessionAffinityClientIP(t *testing.T) {
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	ts := setup(t, "127.0.0.54", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	}, endpointsOf("echo", []*backend{a, b, c}, nil))
	seen := map[string]map[string]int{}
	for _, client := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		seen[client] = map[string]int{}
		for range 30 {
			name, err := hit(ts.clusterAddr, client)
			if err != nil {
				t.Fatal(err)
			}
			seen[client][name]++
		}
		if len(seen[client]) != 1 {
			t.Errorf("client %s spread over %v, want one endpoint", client, seen[client])
		}
	}
	// Three clients arriving one after another round-robin onto three different endpoints.
	distinct := map[string]bool{}
	for _, m := range seen {
		for name := range m {
			distinct[name] = true
		}
	}
	if len(distinct) != 3 {
		t.Errorf("clients pinned to %v, want 3 distinct endpoints", seen)
	}
}

func TestDeadEndpointIsSkipped(t *testing.T) {
	a := startBackend(t, "a")
	dead := startBackend(t, "dead")
	dead.ln.Close() // the pod exited before its Endpoints entry went away
	ts := setup(t, "127.0.0.55", nil, endpointsOf("echo", []*backend{a, dead}, nil))
	for range 20 {
		if name, err := hit(ts.clusterAddr, ""); err != nil || name != "a" {
			t.Fatalf("got %q, %v; want every connection on a", name, err)
		}
	}
	var failed uint64
	for _, s := range ts.p.Stats("default", "echo") {
		failed += s.Failed
	}
	if failed == 0 {
		t.Error("failed dials not counted")
	}
}

func TestServiceLifecycle(t *testing.T) {
	a := startBackend(t, "a")
	ts := setup(t, "127.0.0.56", nil, endpointsOf("echo", []*backend{a}, nil))
	ctx := context.Background()

	// Headless: the proxy lets go of the address.
	svc, _ := ts.cs.CoreV1().Services("default").Get(ctx, "echo", metav1.GetOptions{})
	port := svc.Spec.Ports[0].Port
	if err := ts.cs.CoreV1().Services("default").Delete(ctx, "echo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, ts.clusterAddr)

	svc.ResourceVersion = ""
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	if _, err := ts.cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Re-created with a ClusterIP on another port: it serves there.
	time.Sleep(100 * time.Millisecond)
	if c, err := net.Dial("tcp4", ts.clusterAddr); err == nil {
		c.Close()
		t.Fatal("a headless Service got a listener")
	}
	svc.Spec.ClusterIP = "127.0.0.56"
	svc.Spec.Ports[0].Port = port + 1
	if _, err := ts.cs.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	newAddr := net.JoinHostPort("127.0.0.56", strconv.Itoa(int(port+1)))
	waitListening(t, newAddr)
	if name, err := hit(newAddr, ""); err != nil || name != "a" {
		t.Fatalf("got %q %v", name, err)
	}

	// Stopping the proxier closes listeners and in-flight connections.
	conn, err := net.Dial("tcp4", newAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ts.cancel()
	select {
	case <-ts.p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("proxier did not stop")
	}
	waitRefused(t, newAddr)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, conn) // greeting, then EOF/reset rather than a timeout
	if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("in-flight connection still open after stop: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatalf("%s still accepts connections", addr)
}

func TestParallelConnections(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	ts := setup(t, "127.0.0.57", nil, endpointsOf("echo", []*backend{a, b}, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp4", ts.clusterAddr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			if _, err := r.ReadString('\n'); err != nil {
				errs <- err
				return
			}
			msg := strings.Repeat("x", 10000) + "\n"
			go io.WriteString(c, msg)
			got, err := r.ReadString('\n')
			if err != nil || got != msg {
				errs <- fmt.Errorf("echo broken: %d bytes, %v", len(got), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ts.settle(t, 201)
	var in, out uint64
	for _, s := range ts.p.Stats("default", "echo") {
		in += s.BytesIn
		out += s.BytesOut
	}
	if in != 200*10001 {
		t.Errorf("bytes in = %d, want %d", in, 200*10001)
	}
}

func TestServicesOfOtherProxiesAreLeftAlone(t *testing.T) {
	a := startBackend(t, "a")
	portOther, portMine := freePort(t, "127.0.0.58"), freePort(t, "127.0.0.59")
	other := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{ProxyNameLabel: "webkube-dns"}},
		Spec:       corev1.ServiceSpec{ClusterIP: "127.0.0.58", Ports: []corev1.ServicePort{{Name: "http", Port: portOther, Protocol: corev1.ProtocolTCP}}},
	}
	otherEp := endpointsOf("kube-dns", []*backend{a}, nil)
	otherEp.Namespace = "kube-system"
	mine := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: "127.0.0.59", Ports: []corev1.ServicePort{{Name: "http", Port: portMine, Protocol: corev1.ProtocolTCP}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(Config{Client: fake.NewClientset(other, otherEp, mine, endpointsOf("echo", []*backend{a}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-p.Done() }()
	waitListening(t, net.JoinHostPort("127.0.0.59", strconv.Itoa(int(portMine))))
	time.Sleep(50 * time.Millisecond)
	if c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.58", strconv.Itoa(int(portOther)))); err == nil {
		c.Close()
		t.Fatal("the proxy took a Service labelled for another proxy")
	}
}

func TestLoadBalancerActsAsNodePort(t *testing.T) {
	a := startBackend(t, "a")
	nodePort := freePort(t, "127.0.0.1")
	ts := setup(t, "127.0.0.61", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = nodePort
	}, endpointsOf("echo", []*backend{a}, nil))
	if name, err := hit(ts.nodeAddr, ""); err != nil || name != "a" {
		t.Fatalf("via the LoadBalancer's node port: %q %v", name, err)
	}
}

func TestNodePortTakenKeepsClusterIPAndRetries(t *testing.T) {
	a := startBackend(t, "a")
	squatter, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nodePort := int32(squatter.Addr().(*net.TCPAddr).Port)
	ts := setup(t, "127.0.0.62", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = nodePort
	}, endpointsOf("echo", []*backend{a}, nil))
	if name, err := hit(ts.clusterAddr, ""); err != nil || name != "a" {
		t.Fatalf("ClusterIP while the node port is taken: %q %v", name, err)
	}
	squatter.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if name, err := hit(ts.nodeAddr, ""); err == nil && name == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node port never opened after it was freed")
		}
	}
}
