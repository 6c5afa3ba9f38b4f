package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/eventually"
)

// The dashboard reads the Service proxy's counters from the API's /metrics: an API server
// without them gets a Service page saying why no counters are shown; once /metrics carries
// webkube_serviceproxy_* (as webkube's does), the endpoints show their counts.
func TestTrafficCountersFromAPIMetrics(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := e.c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.0.7"}}, Ports: []corev1.EndpointPort{{Port: 8080}}}}}
	if _, err := e.c.Client.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	page := func() string {
		res, err := http.Get(e.url + "/o/service/default/echo")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	eventually.That(t, 10*time.Second, "the Service page says why no counters", func() (bool, string) {
		p := page()
		return strings.Contains(p, `data-testid="traffic-no-counters"`) && strings.Contains(p, "no webkube_serviceproxy_* counters"), "no reason on the page"
	})
	e.c.API.API.AddMetrics(func(w io.Writer) {
		fmt.Fprint(w, "webkube_serviceproxy_counts_bytes 1\n",
			`webkube_serviceproxy_endpoint_connections_total{namespace="default",service="echo",endpoint="10.1.0.7:8080"} 7`+"\n",
			`webkube_serviceproxy_endpoint_bytes_in_total{namespace="default",service="echo",endpoint="10.1.0.7:8080"} 2048`+"\n")
	})
	// A /metrics without counters is asked again only every half minute: move its clock on.
	e.d.metrics.mu.Lock()
	e.d.metrics.now = func() time.Time { return time.Now().Add(time.Minute) }
	e.d.metrics.mu.Unlock()
	eventually.That(t, 10*time.Second, "the endpoint's counters from /metrics", func() (bool, string) {
		p := page()
		i := strings.Index(p, `data-testid="conns"`)
		if i < 0 {
			return false, "no conns cell"
		}
		return strings.HasPrefix(p[i:], `data-testid="conns">7<`) && strings.Contains(p, `data-testid="traffic-counting"`) && strings.Contains(p, "2.0 KiB"), p[i:min(len(p), i+200)]
	})
}
