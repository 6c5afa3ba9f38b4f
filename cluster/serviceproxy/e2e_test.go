package serviceproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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

	"webkube/cluster/apiserver"
	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/endpoints"
	"webkube/cluster/dns"
	"webkube/internal/eventually"
)

// podServer stands in for a pod: a TCP server on its own address on the test's service
// interface, answering each connection with its name and then echoing.
type podServer struct {
	name, ip string
	ln       net.Listener
	conns    atomic.Int64
}

func startPodServer(t *testing.T, name, ip string) *podServer {
	t.Helper()
	ln, err := net.Listen("tcp4", ip+":3000")
	if err != nil {
		t.Fatal(err)
	}
	s := &podServer{name: name, ip: ip, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "%s\n", name)
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func greet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func setReady(t *testing.T, cs kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	ctx := context.Background()
	p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createPod(t *testing.T, cs kubernetes.Interface, name, ip string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "echo"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "echo", Image: "ghcr.io/subicura/echo:v1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}}}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, name, ip, true)
}

func readyIn(p *Proxier, addr string) bool {
	for _, s := range p.Stats("default", "echo") {
		if s.Address == addr {
			return s.Ready
		}
	}
	return false
}

// TestServicesEndToEnd wires the endpoints controller, the proxy and the cluster DNS to a
// real API server as webkube's main does, with ClusterIPs from a test service range on a
// service interface of the test's own and "pods" listening on addresses there. It checks
// the promises: a DNS name and a NodePort reach all pods, an unready pod gets no
// traffic until ready again, and replacing pods under load fails no request.
func TestServicesEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a network interface: run it as root (and install the Debian package iproute2)")
	}
	const serviceCIDR, dnsIP = "198.18.96.0/24", "198.18.96.10"
	// A NodePort range of one free port: the default range may be in use by a webkube
	// running on this machine.
	np := freePort(t, "127.0.0.1")
	api := apiservertest.Start(t, apiservertest.WithConfig(func(c *apiserver.Config) {
		c.ServiceCIDR = serviceCIDR
		c.NodePortRange = fmt.Sprintf("%d-%d", np, np)
	}))
	cs := api.Clientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	name := fmt.Sprintf("wke%d", os.Getpid()%100000)
	iface, err := NewServiceInterface(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := iface.Delete(); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	})
	pods := map[string]*podServer{}
	for i, n := range []string{"echo-a", "echo-b", "echo-c", "echo-d"} {
		ip := fmt.Sprintf("198.18.80.%d", i+1)
		if err := iface.AddAddress(ip); err != nil {
			t.Fatal(err)
		}
		pods[n] = startPodServer(t, n, ip)
	}
	for _, n := range []string{"echo-a", "echo-b", "echo-c"} {
		createPod(t, cs, n, pods[n].ip)
	}
	svc, err := cs.CoreV1().Services("default").Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The wiring main does.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrl, err := endpoints.NewController(endpoints.Config{Client: cs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in pods' addresses live on the same interface here, so the proxy keeps
	// them as it keeps the DNS address.
	keep := []string{dnsIP}
	for _, p := range pods {
		keep = append(keep, p.ip)
	}
	proxy, err := New(Config{Client: cs, NodeAddress: "127.0.0.1", Addresses: iface, KeepAddresses: keep, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := iface.AddAddress(dnsIP); err != nil {
		t.Fatal(err)
	}
	dnsSrv, err := dns.NewServer(dns.Config{Client: cs, Addr: dnsIP + ":53", RegisterService: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []func(context.Context) error{ctrl.Start, proxy.Start, dnsSrv.Start} {
		if err := start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		cancel()
		<-proxy.Done()
		<-dnsSrv.Done()
	}()

	// The DNS name resolves to the allocated ClusterIP; kube-dns holds the DNS address.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dnsIP+":53")
	}}
	addrs, err := r.LookupHost(context.Background(), "echo.default.svc.cluster.local")
	if err != nil || len(addrs) != 1 || addrs[0] != svc.Spec.ClusterIP {
		t.Fatalf("echo.default.svc.cluster.local = %v, %v; want %s", addrs, err, svc.Spec.ClusterIP)
	}
	kd, err := cs.CoreV1().Services("kube-system").Get(context.Background(), dns.ServiceName, metav1.GetOptions{})
	if err != nil || kd.Spec.ClusterIP != dnsIP {
		t.Fatalf("kube-dns Service: %v %v", kd, err)
	}
	clusterAddr := net.JoinHostPort(addrs[0], "80")
	nodeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))

	// Wait until all three are in rotation, then 300 connections each way reach all three.
	eventually.That(t, 10*time.Second, "three endpoints ready", func() (bool, string) {
		n := 0
		for _, s := range proxy.Stats("default", "echo") {
			if s.Ready {
				n++
			}
		}
		return n == 3, fmt.Sprint(proxy.Stats("default", "echo"))
	})
	for _, addr := range []string{clusterAddr, nodeAddr} {
		counts := map[string]int{}
		for range 300 {
			n, err := greet(addr)
			if err != nil {
				t.Fatalf("via %s: %v", addr, err)
			}
			counts[n]++
		}
		if len(counts) != 3 || counts["echo-a"] < 90 || counts["echo-b"] < 90 || counts["echo-c"] < 90 {
			t.Errorf("via %s: %v, want ~100 each on echo-a/b/c", addr, counts)
		}
	}

	// echo-b turns unready: no new connections until it is ready again.
	bAddr := pods["echo-b"].ip + ":3000"
	changed := time.Now()
	setReady(t, cs, "echo-b", pods["echo-b"].ip, false)
	eventually.That(t, 10*time.Second, "echo-b out of rotation", func() (bool, string) { return !readyIn(proxy, bAddr), "" })
	t.Logf("unready pod out of rotation %v after its status update", time.Since(changed))
	before := pods["echo-b"].conns.Load()
	for range 100 {
		if n, err := greet(clusterAddr); err != nil || n == "echo-b" {
			t.Fatalf("while echo-b is unready: %q %v", n, err)
		}
	}
	if d := pods["echo-b"].conns.Load() - before; d != 0 {
		t.Errorf("echo-b got %d connections while unready", d)
	}
	setReady(t, cs, "echo-b", pods["echo-b"].ip, true)
	eventually.That(t, 10*time.Second, "echo-b back in rotation", func() (bool, string) { return readyIn(proxy, bAddr), "" })
	got := 0
	for range 30 {
		if n, _ := greet(clusterAddr); n == "echo-b" {
			got++
		}
	}
	if got == 0 {
		t.Error("echo-b got no traffic once ready again")
	}

	// A rolling replacement under continuous load: echo-d comes up, echo-a is deleted and
	// its server stops at once (before the proxy may have heard). Every connection echo-a
	// refuses from then on is retried on another endpoint, so requests do not fail while
	// the proxy still sends to it (TestDeadEndpointIsSkipped holds the retry to that
	// exactly). What no proxy can save (kube-proxy neither) is a connection echo-a's
	// kernel had already accepted when its server closed: it is reset after the proxy
	// handed it over. Each of the four clients has at most one of those in flight; a CI
	// run once had 2 of 3,110 requests reset so, which an exact 0 here failed.
	var failed, ok atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := greet(clusterAddr); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	createPod(t, cs, "echo-d", pods["echo-d"].ip)
	eventually.That(t, 10*time.Second, "echo-d in rotation", func() (bool, string) { return readyIn(proxy, pods["echo-d"].ip+":3000"), "" })
	if err := cs.CoreV1().Pods("default").Delete(context.Background(), "echo-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pods["echo-a"].ln.Close()
	eventually.That(t, 10*time.Second, "echo-a out of rotation", func() (bool, string) { return !readyIn(proxy, pods["echo-a"].ip+":3000"), "" })
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	const inFlight = 4 // one per client
	if failed.Load() > inFlight {
		t.Errorf("%d of %d requests failed during the replacement, want at most %d (in flight when echo-a closed); first: %v",
			failed.Load(), failed.Load()+ok.Load(), inFlight, firstErr.Load())
	}
	t.Logf("%d requests during the replacement, %d failed", ok.Load()+failed.Load(), failed.Load())
	for _, s := range proxy.Stats("default", "echo") {
		t.Logf("stats %s %s ready=%v connections=%d failed=%d", s.Pod, s.Address, s.Ready, s.Connections, s.Failed)
	}
}

// TestIPTablesEndToEnd is TestServicesEndToEnd for ModeIPTables: the real API server and
// endpoints controller on the host, the rules and the "pods" in a network namespace of
// the test's own. In this mode the kernel cannot retry a connection on another endpoint,
// so a rolling replacement loses nothing only if the old pod keeps serving until its
// endpoint is gone, which is what a pod draining on SIGTERM does; the test checks that,
// and reports what an abrupt exit costs.
func TestIPTablesEndToEnd(t *testing.T) {
	lab := newLab(t, "198.18.85.1", "198.18.85.2", "198.18.85.3", "198.18.85.4")
	api := apiservertest.Start(t, apiservertest.WithConfig(func(c *apiserver.Config) { c.ServiceCIDR = "198.18.99.0/24" }))
	cs := api.Clientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pods := map[string]*backend{}
	ipOf := map[string]string{}
	for i, n := range []string{"echo-a", "echo-b", "echo-c", "echo-d", "echo-e"} {
		ipOf[n] = fmt.Sprintf("198.18.85.%d", i+1)
	}
	for _, n := range []string{"echo-a", "echo-b", "echo-c", "echo-d"} {
		pods[n] = lab.backend(n, ipOf[n]+":3000")
	}
	for _, n := range []string{"echo-a", "echo-b", "echo-c"} {
		createPod(t, cs, n, ipOf[n])
	}
	svc, err := cs.CoreV1().Services("default").Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrl, err := endpoints.NewController(endpoints.Config{Client: cs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := New(Config{Client: cs, Mode: ModeIPTables, NetNS: lab.ns, NodeAddress: "127.0.0.1", Addresses: nsBinder{lab.ns}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []func(context.Context) error{ctrl.Start, proxy.Start} {
		if err := start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { cancel(); <-proxy.Done() }()
	inRules := func(pod string) bool { return lab.live(ipOf[pod] + ":3000") }
	eventually.That(t, 10*time.Second, "rules for three pods", func() (bool, string) {
		return inRules("echo-a") && inRules("echo-b") && inRules("echo-c"), lab.natRules()
	})
	clusterAddr := net.JoinHostPort(svc.Spec.ClusterIP, "80")
	nodeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(svc.Spec.Ports[0].NodePort)))
	for _, addr := range []string{clusterAddr, nodeAddr} {
		counts := map[string]int{}
		for range 300 {
			n, err := lab.hit(addr, "")
			if err != nil {
				t.Fatalf("via %s: %v", addr, err)
			}
			counts[n]++
		}
		if counts["echo-a"] != 100 || counts["echo-b"] != 100 || counts["echo-c"] != 100 {
			t.Errorf("via %s: %v, want 100 each", addr, counts)
		}
	}

	setReady(t, cs, "echo-b", ipOf["echo-b"], false)
	eventually.That(t, 10*time.Second, "echo-b out of the rules", func() (bool, string) { return !inRules("echo-b"), "" })
	before := pods["echo-b"].conns.Load()
	for range 100 {
		if n, err := lab.hit(clusterAddr, ""); err != nil || n == "echo-b" {
			t.Fatalf("while echo-b is unready: %q %v", n, err)
		}
	}
	if d := pods["echo-b"].conns.Load() - before; d != 0 {
		t.Errorf("echo-b got %d connections while unready", d)
	}
	setReady(t, cs, "echo-b", ipOf["echo-b"], true)
	eventually.That(t, 10*time.Second, "echo-b back", func() (bool, string) { return inRules("echo-b"), "" })

	// load runs 4 clients in the namespace until stop is closed.
	load := func(stop chan struct{}) (ok, failed *atomic.Int64, wait func()) {
		ok, failed = new(atomic.Int64), new(atomic.Int64)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := enterNetns(lab.ns); err != nil {
					failed.Add(1)
					return
				}
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := greet(clusterAddr); err != nil {
						failed.Add(1)
					} else {
						ok.Add(1)
					}
				}
			}()
		}
		return ok, failed, wg.Wait
	}

	// Graceful: echo-d joins; echo-a is deleted and keeps serving for 1 s, as a server
	// draining on SIGTERM would, then stops.
	stop := make(chan struct{})
	ok, failed, wait := load(stop)
	time.Sleep(200 * time.Millisecond)
	createPod(t, cs, "echo-d", ipOf["echo-d"])
	eventually.That(t, 10*time.Second, "echo-d in the rules", func() (bool, string) { return inRules("echo-d"), "" })
	if err := cs.CoreV1().Pods("default").Delete(context.Background(), "echo-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	eventually.That(t, 10*time.Second, "echo-a out of the rules", func() (bool, string) { return !inRules("echo-a"), "" })
	t.Logf("deleted pod out of the rules after %v", time.Since(gone))
	time.Sleep(time.Until(gone.Add(time.Second)))
	pods["echo-a"].ln.Close()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wait()
	if failed.Load() != 0 {
		t.Errorf("graceful replacement: %d of %d requests failed", failed.Load(), ok.Load()+failed.Load())
	}
	t.Logf("graceful replacement: %d requests, %d failed", ok.Load()+failed.Load(), failed.Load())

	// Abrupt: echo-d is deleted and stops at the same moment. Measured, not asserted:
	// connections the kernel sends there before the rules change are refused.
	stop = make(chan struct{})
	ok, failed, wait = load(stop)
	time.Sleep(200 * time.Millisecond)
	if err := cs.CoreV1().Pods("default").Delete(context.Background(), "echo-d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pods["echo-d"].ln.Close()
	eventually.That(t, 10*time.Second, "echo-d out of the rules", func() (bool, string) { return !inRules("echo-d"), "" })
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wait()
	t.Logf("abrupt exit: %d requests, %d failed", ok.Load()+failed.Load(), failed.Load())
}
