package serviceproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"webkube/internal/eventually"
)

// nsBinder puts ClusterIPs on lo inside a test network namespace.
type nsBinder struct{ ns string }

func (b nsBinder) AddAddress(ip string) error {
	return exec.Command("ip", "-n", b.ns, "addr", "replace", ip+"/32", "dev", "lo").Run()
}
func (b nsBinder) RemoveAddress(ip string) error {
	return exec.Command("ip", "-n", b.ns, "addr", "del", ip+"/32", "dev", "lo").Run()
}

// netnsLab is a network namespace with loopback up and some addresses on lo: pods,
// clients, ClusterIPs all live in it, and its nat table is the proxy's.
type netnsLab struct {
	t  testing.TB
	ns string
}

func newLab(t testing.TB, addrs ...string) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes a network namespace and iptables rules in it: run it as root (Debian packages iproute2 and iptables)")
	}
	ns := fmt.Sprintf("wkt-ipt%d-%d", os.Getpid()%100000, time.Now().UnixNano()%1000)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	for _, a := range addrs {
		ipCmd(t, "-n", ns, "addr", "add", a+"/32", "dev", "lo")
	}
	return &netnsLab{t: t, ns: ns}
}

// backend starts a greeting/echo server in the namespace on addr.
func (l *netnsLab) backend(name, addr string) *backend {
	l.t.Helper()
	var ln net.Listener
	if err := inNetns(l.ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		l.t.Fatal(err)
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
	l.t.Cleanup(func() { ln.Close() })
	return b
}

// dial connects from inside the namespace, from local if set.
func (l *netnsLab) dial(addr, local string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(l.ns, func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		c, err = d.Dial("tcp4", addr)
		return err
	})
	return c, err
}

func (l *netnsLab) hit(addr, local string) (string, error) {
	c, err := l.dial(addr, local)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// live reports whether the nat table has s in webkube's rules and the jump into them
// from OUTPUT (inserted right after the first rules are written), so traffic uses them.
func (l *netnsLab) live(s string) bool { return l.liveAs(DefaultInstance, s) }

// liveAs is live for the proxier with that Config.Instance.
func (l *netnsLab) liveAs(instance, s string) bool {
	rules := l.natRules()
	return strings.Contains(rules, s) && strings.Contains(rules, "-A OUTPUT -j "+chainServicesBase+"-"+instanceTag(instance))
}

func (l *netnsLab) natRules() string {
	out, _ := exec.Command("ip", "netns", "exec", l.ns, "iptables-save", "-t", "nat").CombinedOutput()
	return string(out)
}

// epAt lists backends at their own addresses on port 3000, like pods.
func epAt(name string, ready []*backend, ips map[*backend]string) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if len(ready) == 0 {
		return ep
	}
	ss := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: "http", Port: 3000, Protocol: corev1.ProtocolTCP}}}
	for _, b := range ready {
		ss.Addresses = append(ss.Addresses, corev1.EndpointAddress{IP: ips[b], TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: b.name}})
	}
	ep.Subsets = []corev1.EndpointSubset{ss}
	return ep
}

func startKernelProxy(t *testing.T, lab *netnsLab, objs ...*corev1.Service) (*Proxier, kubernetes.Interface, context.CancelFunc) {
	t.Helper()
	return startKernelProxyAs(t, lab, "", objs...)
}

// startKernelProxyAs starts an iptables-mode proxier named instance on its own fake API.
func startKernelProxyAs(t *testing.T, lab *netnsLab, instance string, objs ...*corev1.Service) (*Proxier, kubernetes.Interface, context.CancelFunc) {
	t.Helper()
	cs := fake.NewClientset()
	for _, o := range objs {
		if _, err := cs.CoreV1().Services(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(Config{Client: cs, Mode: ModeIPTables, NetNS: lab.ns, NodeAddress: "127.0.0.1", Addresses: nsBinder{lab.ns}, Instance: instance})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-p.Done() })
	return p, cs, cancel
}

func setEndpoints(t *testing.T, cs kubernetes.Interface, ep *corev1.Endpoints) {
	t.Helper()
	_, err := cs.CoreV1().Endpoints("default").Update(context.Background(), ep, metav1.UpdateOptions{})
	if err != nil {
		_, err = cs.CoreV1().Endpoints("default").Create(context.Background(), ep, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestIPTablesMode(t *testing.T) {
	const cip = "198.18.97.10"
	lab := newLab(t, "198.18.81.1", "198.18.81.2", "198.18.81.3", "198.18.82.2", "198.18.82.3", "198.18.82.4")
	a, b, c := lab.backend("a", "198.18.81.1:3000"), lab.backend("b", "198.18.81.2:3000"), lab.backend("c", "198.18.81.3:3000")
	ips := map[*backend]string{a: "198.18.81.1", b: "198.18.81.2", c: "198.18.81.3"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: cip, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}}},
	}
	p, cs, cancel := startKernelProxy(t, lab, svc)
	clusterAddr, nodeAddr := cip+":80", "127.0.0.1:30080"

	t.Run("NoEndpointsRefused", func(t *testing.T) {
		eventually.True(t, 5*time.Second, "the services chain in place", func() bool { return lab.live(chainServicesBase) })
		start := time.Now()
		_, err := lab.dial(clusterAddr, "")
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
			t.Fatalf("dial with no endpoints: %v after %v, want connection refused at once", err, time.Since(start))
		}
	})

	setEndpoints(t, cs, epAt("echo", []*backend{a, b, c}, ips))
	eventually.True(t, 5*time.Second, "an answer from the ClusterIP", func() bool { n, _ := lab.hit(clusterAddr, ""); return n != "" })

	t.Run("RoundRobin", func(t *testing.T) {
		for _, addr := range []string{clusterAddr, nodeAddr} {
			counts := map[string]int{}
			for range 300 {
				n, err := lab.hit(addr, "")
				if err != nil {
					t.Fatalf("via %s: %v", addr, err)
				}
				counts[n]++
			}
			if counts["a"] != 100 || counts["b"] != 100 || counts["c"] != 100 {
				t.Errorf("via %s: %v, want 100 each", addr, counts)
			}
		}
		var total uint64
		for _, s := range p.Stats("default", "echo") {
			total += s.Connections
		}
		if total < 600 {
			t.Errorf("rule counters saw %d connections, want ≥ 600: %+v", total, p.Stats("default", "echo"))
		}
	})

	t.Run("FromPodNamespace", func(t *testing.T) {
		// A pod-like namespace whose default route points at the lab: its connections to
		// the ClusterIP go through the lab's PREROUTING, as pod traffic does on a node.
		pod := lab.ns + "p"
		ipCmd(t, "netns", "add", pod)
		defer exec.Command("ip", "netns", "del", pod).Run()
		ipCmd(t, "-n", pod, "link", "add", "wkv0", "type", "veth", "peer", "name", "wkv1", "netns", lab.ns)
		ipCmd(t, "-n", pod, "addr", "add", "198.19.8.2/30", "dev", "wkv0")
		ipCmd(t, "-n", pod, "link", "set", "wkv0", "up")
		ipCmd(t, "-n", pod, "route", "add", "default", "via", "198.19.8.1")
		ipCmd(t, "-n", lab.ns, "addr", "add", "198.19.8.1/30", "dev", "wkv1")
		ipCmd(t, "-n", lab.ns, "link", "set", "wkv1", "up")
		podLab := &netnsLab{t: t, ns: pod}
		counts := map[string]int{}
		for range 30 {
			n, err := podLab.hit(clusterAddr, "")
			if err != nil {
				t.Fatalf("from the pod namespace: %v", err)
			}
			counts[n]++
		}
		if len(counts) != 3 {
			t.Errorf("from the pod namespace: %v, want all three", counts)
		}

		// The pod serves the Service itself: the node reaches it through the ClusterIP
		// (DNAT in OUTPUT, routed out to the pod), and so does the pod (hairpin: its own
		// source must be masqueraded, or it would answer itself directly).
		if out, err := exec.Command("ip", "netns", "exec", lab.ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
			t.Fatalf("ip_forward: %s %v", out, err)
		}
		p := podLab.backend("p", "198.19.8.2:3000")
		setEndpoints(t, cs, epAt("echo", []*backend{p}, map[*backend]string{p: "198.19.8.2"}))
		eventually.True(t, 5*time.Second, "rules to 198.19.8.2:3000 in place", func() bool { return lab.live("198.19.8.2:3000") })
		if n, err := lab.hit(clusterAddr, ""); err != nil || n != "p" {
			t.Errorf("node to a pod through the ClusterIP: %q %v", n, err)
		}
		if n, err := podLab.hit(clusterAddr, ""); err != nil || n != "p" {
			t.Errorf("pod to itself through the ClusterIP (hairpin): %q %v", n, err)
		}
		setEndpoints(t, cs, epAt("echo", []*backend{a, b, c}, ips))
		eventually.True(t, 5*time.Second, "198.19.8.2:3000 gone from the NAT rules", func() bool { return !strings.Contains(lab.natRules(), "198.19.8.2:3000") })
	})

	t.Run("UnreadyGetsNothingInFlightFinishes", func(t *testing.T) {
		var inflight net.Conn
		var rd *bufio.Reader
		for range 6 {
			conn, err := lab.dial(clusterAddr, "")
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			if n, _ := r.ReadString('\n'); n == "b\n" {
				inflight, rd = conn, r
				break
			}
			conn.Close()
		}
		if inflight == nil {
			t.Fatal("no connection reached b")
		}
		defer inflight.Close()
		setEndpoints(t, cs, epAt("echo", []*backend{a, c}, ips))
		changed := time.Now()
		eventually.True(t, 5*time.Second, "198.18.81.2:3000 gone from the NAT rules", func() bool { return !strings.Contains(lab.natRules(), "198.18.81.2:3000") })
		t.Logf("rules without b %v after the Endpoints update", time.Since(changed))
		before := b.conns.Load()
		for range 60 {
			if n, err := lab.hit(clusterAddr, ""); err != nil || n == "b" {
				t.Fatalf("got %q %v while b is out", n, err)
			}
		}
		if d := b.conns.Load() - before; d != 0 {
			t.Errorf("b got %d new connections", d)
		}
		inflight.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(inflight, "still here\n")
		if line, err := rd.ReadString('\n'); err != nil || line != "still here\n" {
			t.Errorf("in-flight connection broke: %q %v", line, err)
		}
		setEndpoints(t, cs, epAt("echo", []*backend{a, b, c}, ips))
		eventually.True(t, 5*time.Second, "rules to 198.18.81.2:3000 in place", func() bool { return lab.live("198.18.81.2:3000") })
	})

	t.Run("ClientIPAffinity", func(t *testing.T) {
		s, _ := cs.CoreV1().Services("default").Get(context.Background(), "echo", metav1.GetOptions{})
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		if _, err := cs.CoreV1().Services("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, 5*time.Second, "the session affinity rule (--rcheck) in place", func() bool { return lab.live("--rcheck") })
		distinct := map[string]bool{}
		for _, client := range []string{"198.18.82.2", "198.18.82.3", "198.18.82.4"} {
			seen := map[string]int{}
			for range 20 {
				n, err := lab.hit(clusterAddr, client)
				if err != nil {
					t.Fatal(err)
				}
				seen[n]++
			}
			if len(seen) != 1 {
				t.Errorf("client %s spread over %v", client, seen)
			}
			for n := range seen {
				distinct[n] = true
			}
		}
		if len(distinct) < 2 {
			t.Errorf("all clients pinned to the same endpoint: %v", distinct)
		}
	})

	t.Run("CleanupOnStop", func(t *testing.T) {
		cancel()
		<-p.Done()
		if rules := lab.natRules(); strings.Contains(rules, "WEBKUBE") || strings.Contains(rules, "WK-S") {
			t.Errorf("rules left after stop:\n%s", rules)
		}
		out, _ := exec.Command("ip", "-n", lab.ns, "addr", "show", "lo").CombinedOutput()
		if strings.Contains(string(out), cip) {
			t.Errorf("cluster IP left on lo:\n%s", out)
		}
	})
}

// Two webkubes on one host: each proxier has its own instance and its own default/echo
// (same namespace/name, other ClusterIP and pods). Neither may touch the other's chains
// or jump rules, while both sync and when one stops.
func TestIPTablesInstancesIsolated(t *testing.T) {
	lab := newLab(t, "198.18.83.1", "198.18.84.1")
	a, b := lab.backend("a", "198.18.83.1:3000"), lab.backend("b", "198.18.84.1:3000")
	svc := func(cip string, nodePort int32) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: cip, Selector: map[string]string{"app": "echo"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: nodePort, Protocol: corev1.ProtocolTCP}}},
		}
	}
	const cipA, cipB = "198.18.97.20", "198.18.98.20"
	if instanceTag("wk-a") == instanceTag("wk-b") {
		t.Fatal("the two test instances hash to the same tag")
	}
	pa, csA, _ := startKernelProxyAs(t, lab, "wk-a", svc(cipA, 30081))
	setEndpoints(t, csA, epAt("echo", []*backend{a}, map[*backend]string{a: "198.18.83.1"}))
	eventually.True(t, 5*time.Second, "wk-a's rules to 198.18.83.1:3000 in place", func() bool { return lab.liveAs("wk-a", "198.18.83.1:3000") })

	pb, csB, cancelB := startKernelProxyAs(t, lab, "wk-b", svc(cipB, 30082))
	setEndpoints(t, csB, epAt("echo", []*backend{b}, map[*backend]string{b: "198.18.84.1"}))
	eventually.True(t, 5*time.Second, "wk-b's rules to 198.18.84.1:3000 in place", func() bool { return lab.liveAs("wk-b", "198.18.84.1:3000") })

	expect := func(when string, addr, want string) {
		t.Helper()
		for range 10 {
			if n, err := lab.hit(addr, ""); err != nil || n != want {
				t.Fatalf("%s: %s answered %q %v, want %q\n%s", when, addr, n, err, want, lab.natRules())
			}
		}
	}
	expect("both running", cipA+":80", "a")
	expect("both running", "127.0.0.1:30081", "a")
	expect("both running", cipB+":80", "b")
	expect("both running", "127.0.0.1:30082", "b")

	// A rewrites its rules (a sync with a changed Service) after B wrote its own: B's
	// chains must survive A's stale-chain sweep, and the other way round.
	sa, _ := csA.CoreV1().Services("default").Get(context.Background(), "echo", metav1.GetOptions{})
	sa.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	if _, err := csA.CoreV1().Services("default").Update(context.Background(), sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "wk-a's session affinity rule in place", func() bool { return lab.liveAs("wk-a", "--rcheck") })
	expect("after A resynced", cipB+":80", "b")
	expect("after A resynced", cipA+":80", "a")
	if st := pb.Stats("default", "echo"); len(st) != 1 || st[0].Connections < 20 {
		t.Errorf("B's counters: %+v, want ≥ 20 connections on b", st)
	}
	// A's rewrite started its chains' counters afresh: only the last 10 count.
	if st := pa.Stats("default", "echo"); len(st) != 1 || st[0].Connections < 10 {
		t.Errorf("A's counters: %+v, want ≥ 10 connections on a", st)
	}

	cancelB()
	<-pb.Done()
	rules := lab.natRules()
	tagB := instanceTag("wk-b")
	if strings.Contains(rules, "-"+tagB) {
		t.Errorf("B's chains or jumps left after B stopped:\n%s", rules)
	}
	for _, want := range []string{"-A PREROUTING -j ", "-A OUTPUT -j ", "-A POSTROUTING -j "} {
		if !strings.Contains(rules, want+"WEBKUBE-") {
			t.Errorf("A's jump %q gone after B stopped:\n%s", want, rules)
		}
	}
	expect("after B stopped", cipA+":80", "a")
	expect("after B stopped", "127.0.0.1:30081", "a")
	if _, err := lab.hit(cipB+":80", ""); err == nil {
		t.Errorf("B's ClusterIP still answers after B stopped")
	}
}

func TestInstanceChainNames(t *testing.T) {
	if _, err := New(Config{Client: fake.NewClientset(), Mode: ModeIPTables, Instance: strings.Repeat("x", maxInstanceLen+1)}); err == nil {
		t.Error("a 33-char Instance was accepted")
	}
	if _, err := New(Config{Client: fake.NewClientset(), Mode: ModeIPTables, Instance: `a "b"`}); err == nil {
		t.Error("an Instance with spaces and quotes was accepted")
	}
	seen := map[string]string{}
	for _, inst := range []string{DefaultInstance, "wk", "wk1", "wk2", "wkt-12345", strings.Repeat("z", maxInstanceLen)} {
		k, err := newIPTablesProxier(inst, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{k.chainServices, k.chainNodePorts, k.chainPostrouting, k.chainMarkMasq,
			k.svcChain("default/echo", "http"), k.sepChain("default/echo", "http", "10.0.0.1:3000")}
		for _, n := range names {
			if len(n) > 28 {
				t.Errorf("instance %q: chain %q is %d chars, iptables allows 28", inst, n, len(n))
			}
			if other, ok := seen[n]; ok {
				t.Errorf("chain %q used by instances %q and %q", n, other, inst)
			}
			seen[n] = inst
		}
	}
}
