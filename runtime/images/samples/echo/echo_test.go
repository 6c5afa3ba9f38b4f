package echo

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeAnswersWithTheRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("POD_NAME", "echo-pod")
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, log.New(&logs, "", 0)) }()

	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/a/b?c=d", strings.NewReader("x"))
	req.Header.Set("X-Learner", "hello")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Hostname: ", "Pod: echo-pod", "Request: POST /a/b?c=d HTTP/1.1", "X-Learner: hello", "Host: " + ln.Addr().String()} {
		if !strings.Contains(string(body), want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if !strings.Contains(logs.String(), "POST /a/b?c=d") {
		t.Errorf("request not logged: %s", logs.String())
	}
}

func TestMainBadFlag(t *testing.T) {
	if err := Main([]string{"-no-such-flag"}); err == nil {
		t.Error("want an error for an unknown flag")
	}
}
