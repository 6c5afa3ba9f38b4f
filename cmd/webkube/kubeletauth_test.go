package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// asNobody runs a command as the unprivileged user nobody, as any local user could.
func asNobody(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKubeletRefusesStrangers is issue 9's first open door: the kubelet's port ran exec
// and served logs for any local user. Now only the API server's client certificate
// (issued by webkube's CA) gets in, and kubectl still reaches logs and exec through it.
func TestKubeletRefusesStrangers(t *testing.T) {
	c := startCluster(t, "10.246.0.0/16", "wka")
	c.apply(seedEchoPod)
	c.waitPod("echo", "Running", 60*time.Second)
	port := c.jsonpath("node/node-1", "{.status.daemonEndpoints.kubeletEndpoint.Port}")
	if port == "" || port == "0" {
		t.Fatalf("node-1 has no kubelet port")
	}
	kubelet := net.JoinHostPort("127.0.0.1", port)
	// A request leaves a line in echo's log to look for. Running is not listening (echo
	// has no readiness probe): under CI's load the first request was once refused.
	door := "http://" + c.jsonpath("pod/echo", "{.status.podIP}") + ":3000/door"
	c.eventually(30*time.Second, "echo answers "+door, func() (bool, string) {
		_, err := httpGet(door)
		return err == nil, fmt.Sprint(err)
	})
	c.eventually(30*time.Second, "echo's log through kubectl", func() (bool, string) {
		out, err := c.kubectl("logs", "echo")
		return err == nil && strings.Contains(out, "GET /door"), out
	})

	t.Run("NobodyGetsNoLogs", func(t *testing.T) {
		for _, scheme := range []string{"http", "https"} {
			out, _ := asNobody("curl", "-sk", "-m", "5", "-w", "\nHTTP %{http_code}", scheme+"://"+kubelet+"/containerLogs/default/echo/app")
			if strings.Contains(out, "GET /door") || strings.Contains(out, "HTTP 200") {
				t.Fatalf("nobody read echo's log over %s from the kubelet:\n%s", scheme, out)
			}
		}
	})

	t.Run("NobodyGetsNoExec", func(t *testing.T) {
		marker := "/tmp/exec-by-nobody"
		for _, scheme := range []string{"http", "https"} {
			out, _ := asNobody("curl", "-sk", "-m", "3", "-w", "\nHTTP %{http_code}",
				"-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
				"-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Protocol: v5.channel.k8s.io",
				scheme+"://"+kubelet+"/exec/default/echo/app?command=touch&command="+marker+"&stdout=true")
			if strings.Contains(out, "HTTP 101") {
				t.Fatalf("nobody opened an exec over %s on the kubelet:\n%s", scheme, out)
			}
		}
		// The command must not have run either (checked through the API server).
		if out, err := c.kubectl("exec", "echo", "--", "ls", marker); err == nil {
			t.Fatalf("nobody's exec ran in the container: %s", out)
		}
	})

	t.Run("NoClientCertificate", func(t *testing.T) {
		// Even root without the API server's certificate: the handshake is refused.
		conn, err := tls.Dial("tcp", kubelet, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			// TLS 1.3 reports a refused client certificate on the first read.
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Write([]byte("GET /containerLogs/default/echo/app HTTP/1.1\r\nHost: x\r\n\r\n"))
			if err == nil {
				_, err = conn.Read(make([]byte, 1))
			}
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a client without a certificate was not refused by the handshake: %v", err)
		}
	})

	t.Run("CAKeyIsPrivate", func(t *testing.T) {
		key := filepath.Join(c.dataDir, "pki", "ca.key")
		st, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", key, st.Mode().Perm())
		}
		if out, err := asNobody("cat", key); err == nil {
			t.Fatalf("nobody read the CA key: %s", out)
		}
	})

	t.Run("KubectlStillWorks", func(t *testing.T) {
		if out := c.mustKubectl("exec", "echo", "--", "cat", "/etc/hostname"); !strings.Contains(out, "echo") {
			t.Fatalf("kubectl exec through the API server: %q", out)
		}
		if out := c.mustKubectl("logs", "echo", "--tail", "1"); out == "" {
			t.Fatalf("kubectl logs through the API server printed nothing")
		}
	})
}
