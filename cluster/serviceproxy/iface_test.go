package serviceproxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %s: %v", strings.Join(args, " "), out, err)
	}
}

// podNetns makes a network namespace wired to the host like a pod: a veth pair, the host
// end as its default gateway. It is removed when the test ends.
func podNetns(t *testing.T, tag string) string {
	t.Helper()
	ns, host, peer := "wkt-"+tag, "wkt"+tag+"h", "wkt"+tag+"p"
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	ipCmd(t, "link", "set", peer, "netns", ns)
	ipCmd(t, "addr", "add", "198.19.7.1/30", "dev", host)
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "-n", ns, "addr", "add", "198.19.7.2/30", "dev", peer)
	ipCmd(t, "-n", ns, "link", "set", peer, "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	ipCmd(t, "-n", ns, "route", "add", "default", "via", "198.19.7.1")
	return ns
}

// inNetns runs f on an OS thread moved into the named network namespace. Sockets f
// opens stay in that namespace whichever thread uses them later. The thread is thrown
// away afterwards (it exits locked) so no goroutine ever runs in the wrong namespace.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// enterNetns moves the calling goroutine, locked to its thread for good, into the named
// network namespace; the thread dies when the goroutine ends.
func enterNetns(ns string) error {
	runtime.LockOSThread()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
}

// dialFrom opens a TCP connection from inside the named network namespace.
func dialFrom(ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 2*time.Second)
		return err
	})
	return c, err
}

// TestServiceInterfaceClusterIP runs the proxy with its ClusterIP on an interface of the
// test's own (198.18.0.0/15 is reserved for benchmarking, so nothing else uses it) and
// reaches it from the host and from a pod-like network namespace through its gateway.
func TestServiceInterfaceClusterIP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test creates network interfaces and namespaces: run it as root (and install the Debian package iproute2)")
	}
	tag := fmt.Sprint(os.Getpid() % 100000)
	name := "wkt" + tag
	d, err := NewServiceInterface(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Delete(); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("interface %s left behind", name)
		}
	})
	ns := podNetns(t, tag)

	// Adopting an interface left by a crash keeps its addresses (a restarted webkube's
	// Services keep answering); the proxy's first full sync removes those no Service has
	// and keeps the ones it is told to (the DNS address).
	for _, a := range []string{"198.18.77.99", "198.18.77.53", "198.18.77.10"} {
		if err := d.AddAddress(a); err != nil {
			t.Fatal(err)
		}
	}
	if d, err = NewServiceInterface(name); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Addresses(); len(got) != 3 {
		t.Fatalf("adopted interface has %v, want the 3 addresses it had", got)
	}

	a := startBackend(t, "a")
	const clusterIP = "198.18.77.10"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := New(Config{Client: fake.NewClientset(svc, endpointsOf("echo", []*backend{a}, nil)), Addresses: d,
		KeepAddresses: []string{"198.18.77.53"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Addresses(); slices.Contains(got, "198.18.77.99") || !slices.Contains(got, "198.18.77.53") {
		t.Fatalf("after the first sync the interface has %v: want the stale 198.18.77.99 gone and the kept 198.18.77.53 there", got)
	}
	// Wait for the address itself: this VM's network accepts TCP to any outside address,
	// so a successful dial alone does not prove the ClusterIP is ours yet.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := d.Addresses()
		if err == nil && slices.Contains(got, clusterIP) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("addresses on %s = %v, %v; want %s", name, got, err, clusterIP)
		}
	}
	waitListening(t, clusterIP+":80")
	if name, err := hit(clusterIP+":80", ""); err != nil || name != "a" {
		t.Fatalf("from the host: %q %v", name, err)
	}
	c, err := dialFrom(ns, clusterIP+":80")
	if err != nil {
		t.Fatalf("from the pod namespace: %v", err)
	}
	buf := make([]byte, 2)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(buf)
	c.Close()
	if err != nil || string(buf) != "a\n" {
		t.Fatalf("from the pod namespace: read %q, %v", buf, err)
	}

	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("proxier did not stop")
	}
	if got, _ := d.Addresses(); slices.Contains(got, clusterIP) {
		t.Errorf("cluster IP still on %s after stop: %v", name, got)
	}
}
