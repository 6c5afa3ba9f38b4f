package kubeletserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"nhooyr.io/websocket"

	"webkube/cluster/certs"
	wkcd "webkube/runtime/containerd"
	"webkube/runtime/containers"
	"webkube/runtime/containers/containerstest"
)

var env *containerstest.Env

func TestMain(m *testing.M) {
	var err error
	env, err = containerstest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeletserver tests need a containerd:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

// fixture is a kubelet server over a real containers.Runtime whose pods are registered in a
// map, standing in for the kubelet.
type fixture struct {
	ctx  context.Context
	rt   *containers.Runtime
	ids  map[string]string // ns/pod/container -> container ID
	url  string
	base *containers.CreateOptions
	ca   *certs.CA
	// http is the API server's side: a client certificate from ca.
	http *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(containerstest.Ctx())
	img, err := env.Busybox(ctx, "test/busybox:1", containerstest.ImageConfig{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := containers.New(containers.Config{Client: env.Client, RuncRoot: wkcd.RuncRoot(env.Daemon.DataDir()), DataDir: filepath.Join(t.TempDir(), "kubelet")})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ctx: ctx, rt: rt, ids: map[string]string{}, base: &containers.CreateOptions{Image: img}}
	srv := f.serve(t, Config{Runtime: rt, Lookup: LookupFunc(func(_ context.Context, ns, pod, c string) (string, error) {
		if id, ok := f.ids[ns+"/"+pod+"/"+c]; ok {
			return id, nil
		}
		return "", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, pod)
	})})
	t.Cleanup(func() {
		srv.Close()
		bg := containerstest.Ctx()
		sts, _ := rt.List(bg, "")
		for _, s := range sts {
			rt.Remove(bg, s.ID)
		}
		cancel()
	})
	return f
}

// serve serves cfg as the kubelet does: TLS on loopback with a serving certificate from a
// fresh CA, which also issues f.http's client certificate.
func (f *fixture) serve(t *testing.T, cfg Config) *http.Server {
	t.Helper()
	var err error
	if f.ca, err = certs.NewCA(time.Now()); err != nil {
		t.Fatal(err)
	}
	if cfg.Certificate, err = f.ca.IssueTLS(certs.Request{CommonName: "system:node:test", Hosts: []string{"127.0.0.1"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.ClientCAs = f.ca.Pool()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	f.url = "https://" + ln.Addr().String()
	clientTLS, err := f.ca.KubeletClientTLS(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.http = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	return hs
}

// start runs a busybox container (no network: the host's is fine for these tests).
func (f *fixture) start(t *testing.T, pod string, restart int, cmd ...string) string {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: pod, UID: types.UID("uid-" + pod)}}
	c := &corev1.Container{Name: "c", Command: cmd}
	id, err := f.rt.Create(f.ctx, containers.CreateOptions{Pod: p, Container: c, Image: f.base.Image, RestartCount: restart})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rt.StartContainer(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	f.ids["default/"+pod+"/c"] = id
	return id
}

func (f *fixture) get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := f.http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestContainerLogs(t *testing.T) {
	f := newFixture(t)
	first := f.start(t, "logs", 0, "sh", "-c", "echo one; echo two; echo three")
	<-f.rt.Done(first)
	if err := f.rt.Remove(f.ctx, first); err != nil {
		t.Fatal(err)
	}
	id := f.start(t, "logs", 1, "sh", "-c", "echo a; echo b; echo c")
	<-f.rt.Done(id)
	base := f.url + "/containerLogs/default/logs/c"

	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"", 200, "a\nb\nc\n"},
		{"?tailLines=2", 200, "b\nc\n"},
		{"?limitBytes=3", 200, "a\nb"},
		{"?previous=true&tailLines=1", 200, "three\n"},
		{"?sinceSeconds=3600", 200, "a\nb\nc\n"},
		{"?sinceTime=2099-01-01T00:00:00Z", 200, ""},
		{"?tailLines=-1", 400, ""},
		{"?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", 400, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, body := f.get(t, base+tc.query)
			if code != tc.code || (code == 200 && body != tc.want) {
				t.Fatalf("%d %q, want %d %q", code, body, tc.code, tc.want)
			}
		})
	}
	t.Run("Timestamps", func(t *testing.T) {
		_, body := f.get(t, base+"?timestamps=true&tailLines=1")
		ts, line, _ := strings.Cut(strings.TrimSpace(body), " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || line != "c" {
			t.Fatalf("%q: %v", body, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		code, body := f.get(t, f.url+"/containerLogs/default/nope/c")
		var st metav1.Status
		json.Unmarshal([]byte(body), &st)
		if code != 404 || st.Kind != "Status" || st.Reason != metav1.StatusReasonNotFound {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("NoPrevious", func(t *testing.T) {
		f.start(t, "fresh", 0, "true")
		if code, body := f.get(t, f.url+"/containerLogs/default/fresh/c?previous=true"); code != 400 {
			t.Fatalf("%d %s", code, body)
		}
	})
}

func TestFollowLogs(t *testing.T) {
	f := newFixture(t)
	id := f.start(t, "follow", 0, "sh", "-c", `trap "echo bye; exit 0" TERM; echo start; while true; do sleep 0.05; done`)
	resp, err := f.http.Get(f.url + "/containerLogs/default/follow/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "start\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	go f.rt.Stop(f.ctx, id, 10*time.Second)
	done := make(chan string)
	go func() { rest, _ := io.ReadAll(r); done <- string(rest) }()
	select {
	case rest := <-done:
		if rest != "bye\n" {
			t.Fatalf("rest of the stream %q", rest)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the container exited")
	}
}

// wsExec runs an exec over the websocket protocol as kubectl does and returns what came
// back on stdout, stderr and the status channel.
func wsExec(t *testing.T, f *fixture, query string, send func(ctx context.Context, c *websocket.Conn)) (stdout, stderr string, st metav1.Status) {
	t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 15*time.Second)
	defer cancel()
	u := "wss" + strings.TrimPrefix(f.url, "https") + "/exec/default/exec/c?" + query
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: f.http, Subprotocols: []string{"v5.channel.k8s.io"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if resp.Header.Get("Sec-WebSocket-Protocol") != "v5.channel.k8s.io" {
		t.Fatalf("negotiated %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	if send != nil {
		go send(ctx, c)
	}
	var out, errb strings.Builder
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read before status: %v (stdout %q)", err, out.String())
		}
		switch msg[0] {
		case 1:
			out.Write(msg[1:])
		case 2:
			errb.Write(msg[1:])
		case 3:
			if err := json.Unmarshal(msg[1:], &st); err != nil {
				t.Fatal(err)
			}
			return out.String(), errb.String(), st
		}
	}
}

func TestExecWebsocket(t *testing.T) {
	f := newFixture(t)
	f.start(t, "exec", 0, "sleep", "1000")
	q := func(cmd ...string) string {
		v := url.Values{"command": cmd}
		return v.Encode()
	}
	t.Run("Success", func(t *testing.T) {
		out, errs, st := wsExec(t, f, q("ls", "/")+"&stdout=true&stderr=true", nil)
		if st.Status != metav1.StatusSuccess || !strings.Contains(out, "bin\n") || errs != "" {
			t.Fatalf("status %+v stdout %q stderr %q", st, out, errs)
		}
	})
	t.Run("ExitCode", func(t *testing.T) {
		out, errs, st := wsExec(t, f, q("sh", "-c", "echo out; echo err >&2; exit 7")+"&stdout=true&stderr=true", nil)
		if st.Status != metav1.StatusFailure || st.Reason != "NonZeroExitCode" || st.Details == nil ||
			len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "ExitCode" || st.Details.Causes[0].Message != "7" {
			t.Fatalf("status %+v", st)
		}
		if out != "out\n" || errs != "err\n" {
			t.Fatalf("stdout %q stderr %q", out, errs)
		}
	})
	t.Run("StdinAndClose", func(t *testing.T) {
		out, _, st := wsExec(t, f, q("cat")+"&stdin=true&stdout=true&stderr=true", func(ctx context.Context, c *websocket.Conn) {
			c.Write(ctx, websocket.MessageBinary, append([]byte{0}, "piped in\n"...))
			c.Write(ctx, websocket.MessageBinary, []byte{255, 0})
		})
		if st.Status != metav1.StatusSuccess || out != "piped in\n" {
			t.Fatalf("status %+v stdout %q", st, out)
		}
	})
	t.Run("TTYWithResize", func(t *testing.T) {
		out, _, st := wsExec(t, f, q("sh")+"&stdin=true&stdout=true&tty=true", func(ctx context.Context, c *websocket.Conn) {
			c.Write(ctx, websocket.MessageBinary, append([]byte{4}, `{"Width":120,"Height":33}`...))
			time.Sleep(300 * time.Millisecond)
			c.Write(ctx, websocket.MessageBinary, append([]byte{0}, "stty size; tty; exit 3\n"...))
		})
		if st.Reason != "NonZeroExitCode" || st.Details.Causes[0].Message != "3" || !strings.Contains(out, "33 120") || !strings.Contains(out, "/dev/pts/") {
			t.Fatalf("status %+v output %q", st, out)
		}
	})
	t.Run("BadCommand", func(t *testing.T) {
		_, _, st := wsExec(t, f, q("/no/such/binary")+"&stdout=true", nil)
		if st.Status != metav1.StatusFailure || !strings.Contains(st.Message, "no/such/binary") {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("NotWebsocket", func(t *testing.T) {
		if code, body := f.get(t, f.url+"/exec/default/exec/c?"+q("ls")+"&stdout=true"); code != 400 {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("NoStreams", func(t *testing.T) {
		if code, body := f.get(t, f.url+"/exec/default/exec/c?"+q("ls")); code != 400 {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("UnknownPod", func(t *testing.T) {
		if code, body := f.get(t, f.url+"/exec/default/nope/c?"+q("ls")+"&stdout=true"); code != 404 {
			t.Fatalf("%d %s", code, body)
		}
	})
}
