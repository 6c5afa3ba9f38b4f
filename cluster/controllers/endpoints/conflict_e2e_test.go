package endpoints_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/endpoints"
	"webkube/runtime/simnode"
)

// statusCounter counts the controller's API writes and the 409 Conflicts among them.
type statusCounter struct {
	rt               http.RoundTripper
	writes, conflict atomic.Int64
}

func (s *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(r)
	if r.Method != http.MethodGet {
		s.writes.Add(1)
		if err == nil && resp.StatusCode == http.StatusConflict {
			s.conflict.Add(1)
		}
	}
	return resp, err
}

// apiEndpoints is echo's ready addresses from the API, sorted (kubectl shows only three).
func apiEndpoints(t *testing.T, c *clustertest.Cluster) string {
	t.Helper()
	ep, err := c.Client.CoreV1().Endpoints("default").Get(context.Background(), "echo", metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			for _, p := range ss.Ports {
				out = append(out, fmt.Sprintf("%s:%d", a.IP, p.Port))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestNoConflictsWithOwnWrites scales a Service's pods up and down quickly, so syncs come
// while the informer cache still lags the controller's previous write. Kubernetes'
// endpointslice controller remembers its writes for that; so does ours: it must not
// update from a stale cached object and get 409 Conflict from its own writes.
func TestNoConflictsWithOwnWrites(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	cfg := c.API.RESTConfig()
	counter := &statusCounter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := endpoints.NewController(endpoints.Config{Client: client, Logger: c.Logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Start(c.Context()); err != nil {
		t.Fatal(err)
	}
	c.MustKubectl(t, echoDeploy, "apply", "-f", "-")
	c.MustKubectl(t, "", "expose", "deployment", "echo", "--port", "80", "--target-port", "http")
	for _, n := range []int{8, 2, 6, 1, 5} {
		c.MustKubectl(t, "", "scale", "deployment", "echo", "--replicas", fmt.Sprint(n))
		clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
			ips := podIPs(t, c, "app=echo")
			got := apiEndpoints(t, c)
			return len(ips) == n && got == withPort(ips, "3000"), fmt.Sprintf("%d pods, endpoints %s", len(ips), got)
		})
	}
	t.Logf("endpoints controller: %d writes, %d conflicts", counter.writes.Load(), counter.conflict.Load())
	if counter.writes.Load() < 10 {
		t.Errorf("only %d writes: the test did not exercise the controller", counter.writes.Load())
	}
	if n := counter.conflict.Load(); n != 0 {
		t.Errorf("%d conflicts with the controller's own writes, want 0", n)
	}
}
