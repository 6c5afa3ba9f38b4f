package cni

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/pkg/netns"
	cnins "github.com/containernetworking/plugins/pkg/ns"
)

// newTestManager makes a Manager on a bridge and subnet of its own, and removes the bridge
// (and anything left in the data dir) when the test ends.
func newTestManager(t testing.TB) *Manager {
	t.Helper()
	n, _ := rand.Int(rand.Reader, big.NewInt(150))
	return newNode(t, fmt.Sprintf("10.251.%d.0/24", 100+n.Int64()), "")
}

// newNode makes a Manager for one node with its own bridge.
func newNode(t testing.TB, subnet, cluster string) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates network namespaces and bridges: run it as root")
	}
	for _, bin := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s missing: apt-get install containernetworking-plugins", bin)
		}
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatal("iptables missing: apt-get install iptables")
	}
	b := make([]byte, 3)
	rand.Read(b)
	bridge := "wkt" + hex.EncodeToString(b)
	m, err := NewManager(Config{
		DataDir:     t.TempDir(),
		Bridge:      bridge,
		Subnet:      subnet,
		ClusterCIDR: cluster,
		Nameservers: []string{"10.96.0.10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.RemoveNode(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
			t.Errorf("bridge %s left", bridge)
		}
		if out, _ := exec.Command("iptables", "-t", "nat", "-S", "POSTROUTING").Output(); strings.Contains(string(out), bridge) {
			t.Errorf("masquerade rule left:\n%s", out)
		}
	})
	return m
}

func uid(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "uid-" + hex.EncodeToString(b)
}

// listenIn opens a TCP listener inside the pod's namespace that answers "hello from <tag>".
func listenIn(t *testing.T, nsPath, ip, tag string) string {
	t.Helper()
	var ln net.Listener
	err := netns.LoadNetNS(nsPath).Do(func(cnins.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", tag)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func readFrom(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

func TestTwoPodsOnTheBridge(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	a, err := m.SetUp(ctx, uid(t), "default", "pod-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.SetUp(ctx, uid(t), "team", "pod-b")
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, _ := net.ParseCIDR(m.cfg.Subnet)
	for _, nw := range []Network{a, b} {
		if !subnet.Contains(net.ParseIP(nw.IP)) {
			t.Errorf("pod IP %s not in %s", nw.IP, subnet)
		}
		if nw.IP == m.Gateway().String() {
			t.Errorf("pod got the gateway address %s", nw.IP)
		}
	}
	if a.IP == b.IP {
		t.Fatalf("both pods got %s", a.IP)
	}

	t.Run("HostReachesPod", func(t *testing.T) {
		addr := listenIn(t, a.NetnsPath, a.IP, "a")
		got, err := readFrom(addr)
		if err != nil || got != "hello from a" {
			t.Fatalf("host -> %s: %q, %v", addr, got, err)
		}
	})
	t.Run("PodReachesPod", func(t *testing.T) {
		addr := listenIn(t, b.NetnsPath, b.IP, "b")
		var got string
		err := netns.LoadNetNS(a.NetnsPath).Do(func(cnins.NetNS) error {
			var err error
			got, err = readFrom(addr)
			return err
		})
		if err != nil || got != "hello from b" {
			t.Fatalf("pod a -> %s: %q, %v", addr, got, err)
		}
	})
	t.Run("PodLoopbackIsUp", func(t *testing.T) {
		addr := listenIn(t, a.NetnsPath, "127.0.0.1", "lo")
		var got string
		err := netns.LoadNetNS(a.NetnsPath).Do(func(cnins.NetNS) error {
			var err error
			got, err = readFrom(addr)
			return err
		})
		if err != nil || got != "hello from lo" {
			t.Fatalf("localhost in pod: %q, %v", got, err)
		}
	})
	t.Run("Files", func(t *testing.T) {
		hosts, _ := os.ReadFile(b.HostsPath)
		if !strings.Contains(string(hosts), "127.0.0.1\tlocalhost\n") || !strings.Contains(string(hosts), b.IP+"\tpod-b\n") {
			t.Errorf("hosts:\n%s", hosts)
		}
		rc, _ := os.ReadFile(b.ResolvConfPath)
		want := "search team.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
		if string(rc) != want {
			t.Errorf("resolv.conf:\n%s\nwant:\n%s", rc, want)
		}
		hn, _ := os.ReadFile(b.HostnamePath)
		if string(hn) != "pod-b\n" {
			t.Errorf("hostname %q", hn)
		}
	})
	t.Run("MasqueradeRule", func(t *testing.T) {
		if err := iptables("-C", masqueradeRule(m.cfg.Subnet, m.cfg.ClusterCIDR, m.cfg.Bridge)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("List", func(t *testing.T) {
		nws, err := m.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, nw := range nws {
			got[nw.PodUID] = nw.IP
		}
		if len(got) != 2 || got[a.PodUID] != a.IP || got[b.PodUID] != b.IP {
			t.Fatalf("List = %v", got)
		}
	})
}

// TestPodsOnTwoNodes puts two nodes' bridges on one host, as `webkube --nodes 2` does: a pod
// reaches a pod of the other node and is seen there with its own address.
func TestPodsOnTwoNodes(t *testing.T) {
	n, _ := rand.Int(rand.Reader, big.NewInt(100))
	cluster := fmt.Sprintf("10.%d.0.0/16", 100+n.Int64())
	a := newNode(t, fmt.Sprintf("10.%d.1.0/24", 100+n.Int64()), cluster)
	b := newNode(t, fmt.Sprintf("10.%d.2.0/24", 100+n.Int64()), cluster)
	ctx := context.Background()
	pa, err := a.SetUp(ctx, uid(t), "default", "on-a")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.SetUp(ctx, uid(t), "default", "on-b")
	if err != nil {
		t.Fatal(err)
	}
	// A listener in pod b that answers with the caller's address.
	var ln net.Listener
	netns.LoadNetNS(pb.NetnsPath).Do(func(cnins.NetNS) error {
		ln, err = net.Listen("tcp", net.JoinHostPort(pb.IP, "0"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintln(c, host)
			c.Close()
		}
	}()
	var got string
	err = netns.LoadNetNS(pa.NetnsPath).Do(func(cnins.NetNS) error {
		var err error
		got, err = readFrom(ln.Addr().String())
		return err
	})
	if err != nil || got != pa.IP {
		t.Fatalf("pod on node a -> pod on node b: seen as %q (%v), want %s", got, err, pa.IP)
	}
}

func TestSetUpIsIdempotent(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	id := uid(t)
	first, err := m.SetUp(ctx, id, "default", "p")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Twice", func(t *testing.T) {
		again, err := m.SetUp(ctx, id, "default", "p")
		if err != nil || again != first {
			t.Fatalf("second SetUp = %+v, %v; want %+v", again, err, first)
		}
	})
	t.Run("NewManager", func(t *testing.T) {
		m2, err := NewManager(m.cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := m2.SetUp(ctx, id, "default", "p")
		if err != nil || again != first {
			t.Fatalf("SetUp after restart = %+v, %v; want %+v", again, err, first)
		}
	})
	t.Run("CrashBeforeRecord", func(t *testing.T) {
		// A process that died after the CNI ADD but before writing its record.
		os.Remove(filepath.Join(m.podDir(id), recordFile))
		again, err := m.SetUp(ctx, id, "default", "p")
		if err != nil || again.IP != first.IP || again.NetnsPath != first.NetnsPath {
			t.Fatalf("SetUp after crash = %+v, %v; want %+v", again, err, first)
		}
	})
	t.Run("NetnsLost", func(t *testing.T) {
		// As after a reboot: the namespace mount is gone, the records are not.
		if err := netns.LoadNetNS(first.NetnsPath).Remove(); err != nil {
			t.Fatal(err)
		}
		again, err := m.SetUp(ctx, id, "default", "p")
		if err != nil {
			t.Fatal(err)
		}
		if !nsAlive(again.NetnsPath) {
			t.Fatalf("netns %s not alive", again.NetnsPath)
		}
		addr := listenIn(t, again.NetnsPath, again.IP, "again")
		if got, err := readFrom(addr); err != nil || got != "hello from again" {
			t.Fatalf("host -> %s: %q, %v", addr, got, err)
		}
		first = again
	})
	t.Run("TearDownTwice", func(t *testing.T) {
		if err := m.TearDown(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := m.TearDown(ctx, id); err != nil {
			t.Fatalf("second TearDown: %v", err)
		}
		if _, err := os.Stat(first.NetnsPath); !os.IsNotExist(err) {
			t.Fatalf("netns %s still there: %v", first.NetnsPath, err)
		}
		if ips := reservedIPs(m); len(ips) != 0 {
			t.Fatalf("IPs still reserved: %v", ips)
		}
	})
	t.Run("BadUID", func(t *testing.T) {
		if _, err := m.SetUp(ctx, "../x", "default", "p"); err == nil {
			t.Fatal("SetUp accepted a UID with a slash")
		}
	})
}

// TestNoLeaks runs SetUp/TearDown cycles, some in parallel, and then checks that no IP
// reservation, veth, netns mount or pod directory is left.
func TestNoLeaks(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := uid(t)
				if _, err := m.SetUp(ctx, id, "default", "p"); err != nil {
					errs <- err
					return
				}
				if err := m.TearDown(ctx, id); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	if ips := reservedIPs(m); len(ips) != 0 {
		t.Errorf("IPs still reserved: %v", ips)
	}
	if ifs, _ := os.ReadDir("/sys/class/net/" + m.cfg.Bridge + "/brif"); len(ifs) != 0 {
		t.Errorf("%d veths still on the bridge", len(ifs))
	}
	pods, _ := os.ReadDir(filepath.Join(m.cfg.DataDir, "pods"))
	if len(pods) != 0 {
		t.Errorf("%d pod dirs left", len(pods))
	}
	f, _ := os.Open("/proc/self/mountinfo")
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), m.cfg.DataDir) {
			t.Errorf("mount left: %s", sc.Text())
		}
	}
}

func BenchmarkSetUpTearDown(b *testing.B) {
	m := newTestManager(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		id := uid(b)
		if _, err := m.SetUp(ctx, id, "default", "p"); err != nil {
			b.Fatal(err)
		}
		if err := m.TearDown(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// reservedIPs lists host-local's reservations (one file per IP).
func reservedIPs(m *Manager) []string {
	entries, _ := os.ReadDir(filepath.Join(m.cfg.DataDir, "ipam", "webkube-"+m.cfg.Bridge))
	var ips []string
	for _, e := range entries {
		if net.ParseIP(e.Name()) != nil {
			ips = append(ips, e.Name())
		}
	}
	return ips
}

func TestSplitRule(t *testing.T) {
	got := splitRule(`POSTROUTING -s 10.244.1.0/24 ! -d 10.244.0.0/16 -m comment --comment "webkube pods on wkbr0" -j MASQUERADE`)
	want := []string{"POSTROUTING", "-s", "10.244.1.0/24", "!", "-d", "10.244.0.0/16", "-m", "comment", "--comment", "webkube pods on wkbr0", "-j", "MASQUERADE"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
