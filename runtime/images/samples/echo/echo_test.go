package echo

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
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

func TestUnhealthySwitchAnswers503FromThenOn(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(Handler("h", log.New(&logs, "", 0)))
	defer srv.Close()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/"); code != 200 {
		t.Fatalf("before the switch: %d, want 200", code)
	}
	if code := get(UnhealthyPath); code != 200 {
		t.Fatalf("the switch itself: %d, want 200", code)
	}
	for _, p := range []string{"/", "/healthz", "/x?y=z"} {
		if code := get(p); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s after the switch: %d, want 503", p, code)
		}
	}
	if !strings.Contains(logs.String(), "unhealthy from now on") {
		t.Errorf("switch not logged: %s", logs.String())
	}
	// A new handler (a restarted process) starts healthy.
	fresh := httptest.NewRecorder()
	Handler("h", log.New(io.Discard, "", 0)).ServeHTTP(fresh, httptest.NewRequest("GET", "/", nil))
	if fresh.Code != 200 {
		t.Errorf("a fresh handler answers %d, want 200", fresh.Code)
	}
}
