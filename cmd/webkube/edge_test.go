package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDashboardRefusesOtherHosts checks the real binary's wiring: a name that is not
// loopback, --addr's host or an --allowed-host is refused (DNS rebinding), an allowed one
// is served.
func TestDashboardRefusesOtherHosts(t *testing.T) {
	c := startCluster(t, "10.247.0.0/16", "wkh", "--nodes", "0", "--simulated-nodes", "1", "--allowed-host", "dash.test")
	port := c.addr[strings.LastIndex(c.addr, ":")+1:]
	send := func(method, path, host, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+c.addr+path, strings.NewReader(body))
		req.Host = host
		req.Header.Set("Origin", "http://"+host)
		req.Header.Set("Content-Type", "application/json")
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	evil := "rebind.attacker.example:" + port
	if code, body := send("GET", "/", evil, ""); code != http.StatusForbidden || !strings.Contains(body, "rebind.attacker.example") ||
		!strings.Contains(body, "--allowed-host") {
		t.Errorf("GET / as %s: %d %s", evil, code, body)
	}
	if code, body := send("POST", "/ui/apply", evil, `{"yaml":"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pwned\n"}`); code != http.StatusForbidden {
		t.Errorf("POST /ui/apply as %s: %d %s", evil, code, body)
	}
	for _, host := range []string{"dash.test:" + port, "localhost:" + port, c.addr} {
		if code, body := send("GET", "/", host, ""); code != http.StatusOK {
			t.Errorf("GET / as %s: %d %.200s", host, code, body)
		}
	}
	if out, _ := c.kubectl("get", "configmap", "pwned"); !strings.Contains(out, "NotFound") {
		t.Errorf("the refused apply created something: %s", out)
	}
}

// TestTakenDashboardAddressFailsFirst: --addr is bound before anything starts, so a taken
// address fails at once and nothing started on the way (a kubelet's server on a free
// port) can take it meanwhile, as one did in CI ("dashboard: listen tcp …: bind: address
// already in use" after the kubelet registered on that very port).
func TestTakenDashboardAddressFailsFirst(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dataDir := t.TempDir()
	cmd := exec.Command(webkubeBin, "--data-dir", dataDir, "--addr", held.Addr().String(), "--api-addr", freeAddr(t),
		"--ingress-addr", "", "--nodes", "0", "--simulated-nodes", "0")
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("webkube still running with --addr taken:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "dashboard: listen tcp "+held.Addr().String()) ||
		!strings.Contains(string(out), "address already in use") {
		t.Fatalf("want exit with the dashboard's address in use, got %v:\n%s", err, out)
	}
	if strings.Contains(string(out), "store opened") {
		t.Errorf("webkube opened its store before taking --addr:\n%s", out)
	}
}
