package counter

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startRedis runs Debian's redis-server on a free loopback port.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server missing: apt-get install -y redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

func TestCounterCounts(t *testing.T) {
	addr := startRedis(t)
	srv := httptest.NewServer(Handler(addr, log.New(io.Discard, "", 0)))
	defer srv.Close()
	for want := 1; want <= 3; want++ {
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := string(body); got != fmt.Sprintf("count: %d\n", want) {
			t.Fatalf("request %d: got %q", want, got)
		}
	}
}

func TestIncrErrors(t *testing.T) {
	addr := startRedis(t)
	// INCR on a non-integer value: redis answers with an error reply.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "*3\r\n$3\r\nSET\r\n$4\r\ntext\r\n$3\r\nabc\r\n")
	buf := make([]byte, 16)
	c.Read(buf)
	c.Close()
	if _, err := Incr(context.Background(), addr, "text"); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("INCR text: got %v, want redis's 'not an integer' error", err)
	}
	// Nothing listening: the app answers 503 and says where it looked.
	srv := httptest.NewServer(Handler("127.0.0.1:1", log.New(io.Discard, "", 0)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "127.0.0.1:1") {
		t.Errorf("redis down: %d %q", resp.StatusCode, body)
	}
}
