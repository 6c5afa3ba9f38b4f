package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// metricsTraffic reads the Service proxy's counters from the API server's /metrics
// (webkube's API server carries webkube_serviceproxy_*, see cmd/webkube's proxyMetrics).
// The dashboard reads them so whether it runs inside webkube or is attached to one: the
// counters come through the API, not from the proxy in process. A cluster whose /metrics
// has none (kind, minikube: kube-proxy does not count per pod) gets the reason instead.
type metricsTraffic struct {
	client kubernetes.Interface
	now    func() time.Time

	mu     sync.Mutex
	at     time.Time
	counts map[string]map[string]Traffic // namespace/service → endpoint → counters
	bytes  bool
	why    string // empty when the counters are there
}

// metricsMaxAge is how long one read of /metrics answers: the Service page refreshes its
// counters every second.
const metricsMaxAge = 900 * time.Millisecond

func newMetricsTraffic(c kubernetes.Interface, now func() time.Time) *metricsTraffic {
	return &metricsTraffic{client: c, now: now}
}

// EndpointTraffic answers one Service's counters by endpoint "ip:port" (nil when /metrics
// has no Service proxy counters).
func (m *metricsTraffic) EndpointTraffic(ns, svc string) map[string]Traffic {
	m.refresh()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.why != "" {
		return nil
	}
	out := map[string]Traffic{}
	for k, v := range m.counts[ns+"/"+svc] {
		out[k] = v
	}
	return out
}

// state says whether the counters are there, whether they count bytes, and if not, why.
func (m *metricsTraffic) state() (ok, bytes bool, why string) {
	m.refresh()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.why == "", m.bytes, m.why
}

func (m *metricsTraffic) refresh() {
	m.mu.Lock()
	// A /metrics without the counters (kube-apiserver's runs to megabytes) is asked again
	// only every half minute.
	age := metricsMaxAge
	if m.why != "" {
		age = 30 * time.Second
	}
	fresh := !m.at.IsZero() && m.now().Sub(m.at) < age
	m.mu.Unlock()
	if fresh {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := m.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	counts, bytes, found := parseProxyMetrics(string(body))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at, m.counts, m.bytes, m.why = m.now(), counts, bytes, ""
	switch {
	case err != nil:
		m.why = fmt.Sprintf("GET /metrics: %v", err)
	case !found:
		m.why = "GET /metrics: no webkube_serviceproxy_* counters"
	}
}

// parseProxyMetrics reads the webkube_serviceproxy_* lines of a Prometheus text page.
func parseProxyMetrics(text string) (counts map[string]map[string]Traffic, bytes, found bool) {
	counts = map[string]map[string]Traffic{}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "webkube_serviceproxy_counts_bytes "); ok {
			found, bytes = true, strings.TrimSpace(v) == "1"
			continue
		}
		rest, ok := strings.CutPrefix(line, "webkube_serviceproxy_endpoint_")
		if !ok {
			continue
		}
		name, lbls, val, ok := splitSample(rest)
		if !ok {
			continue
		}
		key := lbls["namespace"] + "/" + lbls["service"]
		if counts[key] == nil {
			counts[key] = map[string]Traffic{}
		}
		t := counts[key][lbls["endpoint"]]
		n, _ := strconv.ParseInt(val, 10, 64)
		switch name {
		case "connections_total":
			t.Connections = uint64(n)
		case "active":
			t.Active = n
		case "failed_total":
			t.Failed = uint64(n)
		case "bytes_in_total":
			t.BytesIn = uint64(n)
		case "bytes_out_total":
			t.BytesOut = uint64(n)
		}
		counts[key][lbls["endpoint"]] = t
	}
	return counts, bytes, found
}

// splitSample splits `name{k="v",...} value` (label values as Go quotes them).
func splitSample(s string) (name string, lbls map[string]string, val string, ok bool) {
	open, end := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	if open < 0 || end < open {
		return "", nil, "", false
	}
	name, val = s[:open], strings.TrimSpace(s[end+1:])
	lbls = map[string]string{}
	rest := s[open+1 : end]
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", nil, "", false
		}
		k := rest[:eq]
		q, err := strconv.QuotedPrefix(rest[eq+1:])
		if err != nil {
			return "", nil, "", false
		}
		lbls[k], _ = strconv.Unquote(q)
		rest = strings.TrimPrefix(rest[eq+1+len(q):], ",")
	}
	return name, lbls, val, true
}
