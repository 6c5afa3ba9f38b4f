package serviceproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// loadResult is what one side of an A/B load saw.
type loadResult struct {
	requests int
	mean     time.Duration
	rps      float64 // what the workers would do on this side alone: conns / mean latency
	p50, p99 time.Duration
}

// abLoad drives GET requests from conns closed-loop workers for d, like wrk: a fixed
// request written raw and the response read by its Content-Length, so the load
// generator itself costs little CPU. Each worker alternates one request to a and one to
// b, so both sides meet the same moment's load from the rest of the (shared) machine;
// comparing their latencies then compares the paths, not the moments. newConn opens a
// connection per request. enter, if set, runs first on each worker (to move it into a
// network namespace).
func abLoad(a, b string, conns int, d time.Duration, newConn bool, enter func() error) (ra, rb loadResult, err error) {
	const req = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
	var mu sync.Mutex
	lat := [2][]time.Duration{}
	var firstErr error
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			if enter != nil {
				if err := enter(); err != nil {
					fail(err)
					return
				}
			}
			addrs := [2]string{a, b}
			var cs [2]net.Conn
			var rs [2]*bufio.Reader
			local := [2][]time.Duration{}
			defer func() {
				for _, c := range cs {
					if c != nil {
						c.Close()
					}
				}
				mu.Lock()
				lat[0], lat[1] = append(lat[0], local[0]...), append(lat[1], local[1]...)
				mu.Unlock()
			}()
			for time.Now().Before(stop) {
				for i := range 2 {
					start := time.Now()
					if cs[i] == nil || newConn {
						if cs[i] != nil {
							cs[i].Close()
						}
						c, err := net.Dial("tcp4", addrs[i])
						if err != nil {
							fail(err)
							return
						}
						cs[i], rs[i] = c, bufio.NewReader(c)
					}
					if _, err := io.WriteString(cs[i], req); err != nil {
						fail(err)
						return
					}
					if err := readResponse(rs[i]); err != nil {
						fail(err)
						return
					}
					local[i] = append(local[i], time.Since(start))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return ra, rb, firstErr
	}
	summarize := func(l []time.Duration) loadResult {
		slices.Sort(l)
		var sum time.Duration
		for _, v := range l {
			sum += v
		}
		if len(l) == 0 {
			return loadResult{}
		}
		mean := sum / time.Duration(len(l))
		return loadResult{requests: len(l), mean: mean, rps: float64(conns) / mean.Seconds(),
			p50: l[len(l)/2], p99: l[len(l)*99/100]}
	}
	ra, rb = summarize(lat[0]), summarize(lat[1])
	if ra.requests == 0 || rb.requests == 0 {
		return ra, rb, fmt.Errorf("no requests completed")
	}
	return ra, rb, nil
}

func readResponse(r *bufio.Reader) error {
	n := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length:"); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err := r.Discard(n)
	return err
}

// bulk sends size bytes through addr to a sink and returns MB/s.
func bulk(addr string, size int, enter func() error) (mbps float64, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if enter != nil {
			if err = enter(); err != nil {
				return
			}
		}
		mbps, err = bulkHere(addr, size)
	}()
	<-done
	return mbps, err
}

func bulkHere(addr string, size int) (float64, error) {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for sent := 0; sent < size; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
	}
	c.(*net.TCPConn).CloseWrite()
	// The sink answers with one byte once it has read everything.
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return 0, err
	}
	return float64(size) / (1 << 20) / time.Since(start).Seconds(), nil
}

// benchTargets are the addresses one mode is measured on.
type benchTargets struct {
	direct, proxied         string // HTTP server
	directSink, proxiedSink string // byte sink for bulk
	enter                   func() error
}

// startBenchServers starts the HTTP server (64-byte answers) and the byte sink on ip.
func startBenchServers(b *testing.B, listen func(addr string) (net.Listener, error), ip string) (string, string) {
	body := strings.Repeat("x", 64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, body)
	})}
	ln, err := listen(ip + ":0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	sink, err := listen(ip + ":0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sink.Close() })
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Write([]byte{1})
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), sink.Addr().String()
}

func benchService(clusterIP, podIP, httpAddr, sinkAddr string) (*corev1.Service, *corev1.Endpoints) {
	port := func(a string) int32 { return int32(must(strconv.Atoi(a[strings.LastIndex(a, ":")+1:]))) }
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: []corev1.ServicePort{
			{Name: "http", Port: 18080, Protocol: corev1.ProtocolTCP},
			{Name: "sink", Port: 18081, Protocol: corev1.ProtocolTCP},
		}},
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: podIP}},
			Ports: []corev1.EndpointPort{
				{Name: "http", Port: port(httpAddr), Protocol: corev1.ProtocolTCP},
				{Name: "sink", Port: port(sinkAddr), Protocol: corev1.ProtocolTCP},
			},
		}},
	}
	return svc, ep
}

// BenchmarkProxyVsDirect measures HTTP and bulk bytes through a Service's ClusterIP
// against the same server dialled directly, in the same run, alternating phases so drift
// hits both. userspace runs on the host's loopback; iptables in a network namespace of
// its own (its rules stay there), with its own direct baseline.
//
//	go test -run '^$' -bench ProxyVsDirect -benchtime 1x ./cluster/serviceproxy/
func BenchmarkProxyVsDirect(b *testing.B) {
	b.Run("userspace", func(b *testing.B) {
		httpAddr, sinkAddr := startBenchServers(b, func(a string) (net.Listener, error) { return net.Listen("tcp4", a) }, "127.0.0.1")
		const clusterIP = "127.0.0.60"
		svc, ep := benchService(clusterIP, "127.0.0.1", httpAddr, sinkAddr)
		ctx, cancel := context.WithCancel(context.Background())
		p, err := New(Config{Client: fake.NewClientset(svc, ep)})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() { cancel(); <-p.Done() }()
		for deadline := time.Now().Add(5 * time.Second); len(p.Stats("default", "bench")) < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		compare(b, benchTargets{direct: httpAddr, proxied: clusterIP + ":18080", directSink: sinkAddr, proxiedSink: clusterIP + ":18081"})
	})
	b.Run("iptables", func(b *testing.B) {
		const podIP, clusterIP = "198.18.84.1", "198.18.98.10"
		lab := newLab(b, podIP)
		// Reuse TIME_WAIT ports as the host does on loopback, or connection-per-request
		// load runs out of ephemeral ports towards one address.
		if out, err := exec.Command("ip", "netns", "exec", lab.ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1").CombinedOutput(); err != nil {
			b.Fatalf("tcp_tw_reuse: %s %v", out, err)
		}
		httpAddr, sinkAddr := startBenchServers(b, func(a string) (l net.Listener, err error) {
			err = inNetns(lab.ns, func() error { l, err = net.Listen("tcp4", a); return err })
			return l, err
		}, podIP)
		svc, ep := benchService(clusterIP, podIP, httpAddr, sinkAddr)
		ctx, cancel := context.WithCancel(context.Background())
		p, err := New(Config{Client: fake.NewClientset(svc, ep), Mode: ModeIPTables, NetNS: lab.ns, Addresses: nsBinder{lab.ns}})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() { cancel(); <-p.Done() }()
		for deadline := time.Now().Add(5 * time.Second); !lab.live(sinkAddr) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		compare(b, benchTargets{direct: httpAddr, proxied: clusterIP + ":18080", directSink: sinkAddr, proxiedSink: clusterIP + ":18081",
			enter: func() error { return enterNetns(lab.ns) }})
	})
}

func compare(b *testing.B, tg benchTargets) {
	for _, mode := range []struct {
		name    string
		newConn bool
		conns   int
	}{{"keepalive", false, 16}, {"conn-per-request", true, 16}} {
		dr, pr, err := abLoad(tg.direct, tg.proxied, mode.conns, 5*time.Second, mode.newConn, tg.enter)
		if err != nil {
			b.Fatalf("%s: %v", mode.name, err)
		}
		ratio := float64(dr.mean) / float64(pr.mean)
		b.Logf("%s, %d workers: direct %.0f req/s p50 %v p99 %v | proxy %.0f req/s p50 %v p99 %v | ratio %.2f, added p99 %v",
			mode.name, mode.conns, dr.rps, dr.p50, dr.p99, pr.rps, pr.p50, pr.p99, ratio, pr.p99-dr.p99)
		b.ReportMetric(ratio, mode.name+"-ratio")
		b.ReportMetric(float64((pr.p99 - dr.p99).Microseconds()), mode.name+"-added-p99-µs")
	}
	// Bulk: alternate rounds, the median of the per-round ratios.
	const size, rounds = 128 << 20, 5
	var ratios []float64
	var dsum, psum float64
	for range rounds {
		dm, err := bulk(tg.directSink, size, tg.enter)
		if err != nil {
			b.Fatal(err)
		}
		pm, err := bulk(tg.proxiedSink, size, tg.enter)
		if err != nil {
			b.Fatal(err)
		}
		ratios = append(ratios, pm/dm)
		dsum, psum = dsum+dm, psum+pm
	}
	slices.Sort(ratios)
	b.Logf("bulk %d x 128 MiB: direct %.0f MiB/s, proxy %.0f MiB/s, median ratio %.2f (%.2f-%.2f)",
		rounds, dsum/rounds, psum/rounds, ratios[rounds/2], ratios[0], ratios[rounds-1])
	b.ReportMetric(ratios[rounds/2], "bulk-ratio")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
