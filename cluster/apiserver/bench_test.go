package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// BenchmarkPodCreate measures pod creates over HTTP (TLS, token, JSON) against a real
// SQLite store, with 1, 8 and 64 concurrent clients.
func BenchmarkPodCreate(b *testing.B) {
	for _, clients := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			srv := apiservertest.Start(b)
			// As in webkube, where the serviceaccount controller makes it: the pods'
			// ServiceAccount admission finds it in the watch cache.
			if _, err := srv.Clientset().CoreV1().ServiceAccounts("default").Create(context.Background(),
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			hc := srv.HTTPClient()
			hc.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
			url := srv.URL + "/api/v1/namespaces/default/pods"
			var next atomic.Int64
			lat := make([]time.Duration, b.N)
			var wg sync.WaitGroup
			var failed atomic.Int64
			b.ResetTimer()
			cpu0 := processCPU()
			start := time.Now()
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p-%d","labels":{"app":"bench"}},`+
							`"spec":{"containers":[{"name":"app","image":"nginx"}]}}`, i)
						req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
						req.Header.Set("Authorization", "Bearer "+srv.Token)
						req.Header.Set("Content-Type", "application/json")
						t0 := time.Now()
						resp, err := hc.Do(req)
						if err != nil {
							failed.Add(1)
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						lat[i] = time.Since(t0)
						if resp.StatusCode != 201 {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := processCPU() - cpu0
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d creates failed", n)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}

// processCPU is the CPU time this process (server and benchmark client) has used. On a
// machine shared with other work, creates/s and latency follow the load; CPU per
// create does not, so it is what shows whether a change made the server cheaper.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWatchDelay measures, with 100 watchers on pods over HTTP, the delay from the
// moment a create is sent to the moment each watcher has its ADDED event.
func BenchmarkWatchDelay(b *testing.B) {
	const watchers = 100
	srv := apiservertest.Start(b)
	hc := srv.HTTPClient()
	hc.Timeout = 0
	var sent sync.Map // pod name → time.Time the create was sent
	var mu sync.Mutex
	var delays []time.Duration
	var got atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, _ := srv.Store.CurrentRevision(ctx)
	ready := make(chan struct{}, watchers)
	for w := 0; w < watchers; w++ {
		req, _ := http.NewRequestWithContext(ctx, "GET",
			fmt.Sprintf("%s/api/v1/namespaces/default/pods?watch=true&resourceVersion=%d", srv.URL, rev), nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			ready <- struct{}{}
			dec := json.NewDecoder(resp.Body)
			for {
				var ev struct {
					Type   string
					Object struct {
						Metadata struct{ Name string }
					}
				}
				if err := dec.Decode(&ev); err != nil {
					return
				}
				now := time.Now()
				if t0, ok := sent.Load(ev.Object.Metadata.Name); ok && ev.Type == "ADDED" {
					mu.Lock()
					delays = append(delays, now.Sub(t0.(time.Time)))
					mu.Unlock()
					got.Add(1)
				}
			}
		}()
	}
	for w := 0; w < watchers; w++ {
		<-ready
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("w-%d", i)
		body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/namespaces/default/pods", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		req.Header.Set("Content-Type", "application/json")
		sent.Store(name, time.Now())
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("create: %d", resp.StatusCode)
		}
		// Let every watcher see this one before the next, so delays are not queueing.
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < int64((i+1)*watchers) {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d events arrived", got.Load(), (i+1)*watchers)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}
