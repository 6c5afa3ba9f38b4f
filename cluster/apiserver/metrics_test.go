package apiserver_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"webkube/cluster/apiserver/apiservertest"
)

// TestMetrics: /metrics (Prometheus text) shows the store's revision and size and counts
// requests by verb and code; it needs the token, as every API path.
func TestMetrics(t *testing.T) {
	srv := apiservertest.Start(t)
	body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"}}`)
	if code, out := call(t, srv, "POST", "/api/v1/namespaces/default/configmaps", "application/json", body); code != 201 {
		t.Fatalf("create: %d %s", code, out)
	}
	call(t, srv, "GET", "/api/v1/namespaces/default/configmaps/missing", "", nil)
	code, out := call(t, srv, "GET", "/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, out)
	}
	text := string(out)
	rev := revision(t, srv)
	for _, want := range []string{
		fmt.Sprintf("\nwebkube_store_revision %d\n", rev),
		"# TYPE webkube_store_size_bytes gauge\n",
		`apiserver_request_total{verb="POST",code="201"} 1` + "\n",
		`apiserver_request_total{verb="GET",code="404"} 1` + "\n",
	} {
		if !contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	m := regexp.MustCompile(`\nwebkube_store_size_bytes (\d+)\n`).FindStringSubmatch(text)
	if len(m) < 2 {
		t.Fatalf("no store size in /metrics")
	}
	if n, _ := strconv.Atoi(m[1]); n < 4096 {
		t.Errorf("store size %d bytes", n)
	}
	req := mustReq(t, srv, "/metrics", "")
	req.Header.Del("Authorization")
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("/metrics without the token: %d", resp.StatusCode)
	}
}
