package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"webkube/internal/eventually"
)

func objects() []runtime.Object {
	return []runtime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.12.34", Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{
				{Name: "redis", Port: 6379, Protocol: corev1.ProtocolTCP},
			}},
		},
		&corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
			Subsets: []corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{{IP: "10.244.0.7"}, {IP: "10.244.0.5", Hostname: "db-0"}},
				NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.0.9"}},
				Ports:             []corev1.EndpointPort{{Name: "redis", Port: 6379, Protocol: corev1.ProtocolTCP}},
			}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "other"},
			Spec:       corev1.ServiceSpec{ClusterIP: "10.96.99.1"},
		},
	}
}

func start(t *testing.T, addr string) (*Server, kubernetes.Interface) {
	t.Helper()
	cs := fake.NewClientset(objects()...)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewServer(Config{Client: cs, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Error("dns server did not stop")
		}
	})
	return s, cs
}

// resolver is Go's own DNS client talking only to our server.
func resolver(addr, network string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func TestResolve(t *testing.T) {
	s, _ := start(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, network := range []string{"udp", "tcp"} {
		r := resolver(s.Addr(), network)
		t.Run(network, func(t *testing.T) {
			for _, tc := range []struct{ name, want string }{
				{"echo.default.svc.cluster.local", "[10.96.12.34]"},
				{"ECHO.Default.svc.cluster.local.", "[10.96.12.34]"},
				{"echo.other.svc.cluster.local", "[10.96.99.1]"},
				{"db.default.svc.cluster.local", "[10.244.0.5 10.244.0.7]"}, // headless: ready pods only
				{"db-0.db.default.svc.cluster.local", "[10.244.0.5]"},
				{"10-244-0-7.db.default.svc.cluster.local", "[10.244.0.7]"},
				{"10-244-3-4.default.pod.cluster.local", "[10.244.3.4]"},
			} {
				got, err := r.LookupHost(ctx, tc.name)
				slices.Sort(got)
				if err != nil || fmt.Sprint(got) != tc.want {
					t.Errorf("%s = %v, %v; want %s", tc.name, got, err, tc.want)
				}
			}
			for _, name := range []string{"nope.default.svc.cluster.local", "echo.nope.svc.cluster.local", "10-244-0-9.db.default.svc.cluster.local", "x.y.z.cluster.local"} {
				_, err := r.LookupHost(ctx, name)
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsNotFound {
					t.Errorf("%s: got %v, want not found", name, err)
				}
			}
			_, srvs, err := r.LookupSRV(ctx, "http", "tcp", "echo.default.svc.cluster.local")
			if err != nil || len(srvs) != 1 || srvs[0].Port != 80 || srvs[0].Target != "echo.default.svc.cluster.local." {
				t.Errorf("SRV http: %+v %v", srvs, err)
			}
			_, srvs, err = r.LookupSRV(ctx, "redis", "tcp", "db.default.svc.cluster.local")
			var targets []string
			for _, s := range srvs {
				targets = append(targets, fmt.Sprintf("%s:%d", s.Target, s.Port))
			}
			slices.Sort(targets)
			if err != nil || fmt.Sprint(targets) != "[10-244-0-7.db.default.svc.cluster.local.:6379 db-0.db.default.svc.cluster.local.:6379]" {
				t.Errorf("SRV redis headless: %v %v", targets, err)
			}
		})
	}

	t.Run("RcodesAndNodata", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			typ     dnsmessage.Type
			rcode   dnsmessage.RCode
			answers int
		}{
			{"echo.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, 1},
			{"echo.default.svc.cluster.local.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, 0}, // NODATA, not NXDOMAIN
			{"default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, 0},
			{"cluster.local.", dnsmessage.TypeSOA, dnsmessage.RCodeSuccess, 1},
			{"nope.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, 0},
			{"example.com.", dnsmessage.TypeA, dnsmessage.RCodeRefused, 0},
		} {
			m := query(t, s.Addr(), tc.name, tc.typ)
			if m.RCode != tc.rcode || len(m.Answers) != tc.answers {
				t.Errorf("%s %v: rcode %v, %d answers; want %v, %d", tc.name, tc.typ, m.RCode, len(m.Answers), tc.rcode, tc.answers)
			}
			if tc.rcode != dnsmessage.RCodeRefused && !m.Authoritative {
				t.Errorf("%s: not authoritative", tc.name)
			}
		}
	})
}

// query sends one raw question over TCP and returns the parsed answer.
func query(t *testing.T, addr, name string, typ dnsmessage.Type) dnsmessage.Message {
	t.Helper()
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
		t.Fatal(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	if m.ID != 7 || !m.Response {
		t.Fatalf("bad response header %+v", m.Header)
	}
	return m
}

func TestFollowsChanges(t *testing.T) {
	s, cs := start(t, "127.0.0.1:0")
	r := resolver(s.Addr(), "udp")
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.5.5"},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "late.default resolves", func() bool {
		got, err := r.LookupHost(ctx, "late.default.svc.cluster.local")
		return err == nil && fmt.Sprint(got) == "[10.96.5.5]"
	})
	if err := cs.CoreV1().Services("default").Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "late.default is NXDOMAIN", func() bool {
		_, err := r.LookupHost(ctx, "late.default.svc.cluster.local")
		var de *net.DNSError
		return errors.As(err, &de) && de.IsNotFound
	})
	// A headless pod turning ready appears.
	ep, _ := cs.CoreV1().Endpoints("default").Get(ctx, "db", metav1.GetOptions{})
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, ep.Subsets[0].NotReadyAddresses...)
	ep.Subsets[0].NotReadyAddresses = nil
	if _, err := cs.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "db.default resolves to 3 pods", func() bool {
		got, _ := r.LookupHost(ctx, "db.default.svc.cluster.local")
		return len(got) == 3
	})
}

// TestSearchPathWithGlibc resolves short names the way a pod does: glibc's resolver
// (getent) in a private mount namespace whose /etc/resolv.conf is the one the kubelet
// writes for a pod in namespace default, pointing at this server on port 53.
func TestSearchPathWithGlibc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test binds port 53 and a mount namespace: run it as root (Debian packages util-linux and libc-bin provide unshare and getent)")
	}
	for _, bin := range []string{"unshare", "getent", "sh", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s missing: install the Debian packages util-linux, mount and libc-bin", bin)
		}
	}
	// Port 53 on a loopback address of its own so nothing else on the host collides.
	s, _ := start(t, "127.0.0.153:53")
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte(ResolvConf("default", strings.Split(s.Addr(), ":")[0])), 0o644); err != nil {
		t.Fatal(err)
	}
	nss := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(nss, []byte("hosts: files dns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) (string, error) {
		script := fmt.Sprintf("mount --bind %s /etc/resolv.conf && mount --bind %s /etc/nsswitch.conf && exec getent ahostsv4 %s", resolv, nss, name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", script).CombinedOutput()
		var ips []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == "STREAM" {
				ips = append(ips, f[0])
			}
		}
		slices.Sort(ips)
		return fmt.Sprint(ips), err
	}
	for _, tc := range []struct{ name, want string }{
		{"echo", "[10.96.12.34]"},
		{"echo.default", "[10.96.12.34]"},
		{"echo.other", "[10.96.99.1]"},
		{"echo.default.svc", "[10.96.12.34]"},
		{"db", "[10.244.0.5 10.244.0.7]"},
		{"echo.default.svc.cluster.local", "[10.96.12.34]"},
	} {
		got, err := lookup(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("getent %s = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if got, err := lookup("nope"); err == nil {
		t.Errorf("getent nope = %s, want failure", got)
	}
}

func TestClusterDNSIP(t *testing.T) {
	for cidr, want := range map[string]string{"10.96.0.0/16": DefaultClusterDNS, "10.100.0.0/24": "10.100.0.10", "198.18.96.0/24": "198.18.96.10"} {
		if got, err := ClusterDNSIP(cidr); err != nil || got != want {
			t.Errorf("ClusterDNSIP(%s) = %s, %v; want %s", cidr, got, err, want)
		}
	}
	for _, bad := range []string{"10.96.0.0/30", "fd00::/64", "nonsense"} {
		if got, err := ClusterDNSIP(bad); err == nil {
			t.Errorf("ClusterDNSIP(%s) = %s, want an error", bad, got)
		}
	}
}

// A server that cannot listen (its address is not this host's, as when the ClusterIP
// interface lost it) says so at once and stops its informers, instead of hanging in
// Start while the caller's context is still live.
func TestStartFailsWhenAddressIsNotLocal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := NewServer(Config{Client: fake.NewClientset(objects()...), Addr: "192.0.2.53:53"})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Start(ctx) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "192.0.2.53:53") {
			t.Fatalf("Start = %v, want an error naming 192.0.2.53:53", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start hung after failing to listen")
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after a failed Start")
	}
}
