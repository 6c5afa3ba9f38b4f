package apiserver_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"webkube/cluster/apiserver/apiservertest"
)

// BenchmarkPodCreate measures pod creates over HTTP (TLS, token, JSON) against a real
// SQLite store, with 1, 8 and 64 concurrent clients.
func BenchmarkPodCreate(b *testing.B) {
	for _, clients := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			srv := apiservertest.Start(b)
			hc := srv.HTTPClient()
			hc.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
			url := srv.URL + "/api/v1/namespaces/default/pods"
			var next atomic.Int64
			lat := make([]time.Duration, b.N)
			var wg sync.WaitGroup
			var failed atomic.Int64
			b.ResetTimer()
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
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d creates failed", n)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
