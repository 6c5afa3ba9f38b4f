package kubeletserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeAPIServer answers just what /usr/bin/kubectl asks before an exec or logs (version,
// discovery, the pod) and proxies pods/exec and pods/log to the kubelet server, as the API
// server does.
func fakeAPIServer(t *testing.T, f *fixture) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(f.url)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = f.http.Transport // the API server's client certificate
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.3"})
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}})
	})
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "list"}, ShortNames: []string{"po"}},
				{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
				{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}}}})
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: r.PathValue("pod"), Namespace: r.PathValue("ns")},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		})
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/exec", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/exec/" + r.PathValue("ns") + "/" + r.PathValue("pod") + "/" + r.URL.Query().Get("container")
		proxy.ServeHTTP(w, r)
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/log", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/containerLogs/" + r.PathValue("ns") + "/" + r.PathValue("pod") + "/" + r.URL.Query().Get("container")
		proxy.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func kubectl(t *testing.T, api string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		t.Fatal("/usr/bin/kubectl missing: install kubectl v1.32")
	}
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/kubectl", append([]string{"--server", api, "--cache-dir", filepath.Join(dir, "cache"), "--request-timeout", "20s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"), "HOME="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestKubectl drives the real kubectl's exec and logs through a stand-in API server.
func TestKubectl(t *testing.T) {
	f := newFixture(t)
	f.start(t, "echo", 0, "sh", "-c", "echo started; exec sleep 1000")
	api := fakeAPIServer(t, f)

	t.Run("ExecOutputAndExitCode", func(t *testing.T) {
		out, errs, code := kubectl(t, api.URL, "", "exec", "echo", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3")
		if code != 3 || out != "hi\n" || !strings.Contains(errs, "oops") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
		}
	})
	t.Run("ExecLs", func(t *testing.T) {
		out, errs, code := kubectl(t, api.URL, "", "exec", "echo", "--", "ls", "/")
		if code != 0 || !strings.Contains(out, "bin\n") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
		}
	})
	t.Run("ExecStdin", func(t *testing.T) {
		out, errs, code := kubectl(t, api.URL, "line one\nline two\n", "exec", "-i", "echo", "--", "wc", "-l")
		if code != 0 || strings.TrimSpace(out) != "2" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
		}
	})
	t.Run("Logs", func(t *testing.T) {
		out, errs, code := kubectl(t, api.URL, "", "logs", "echo")
		if code != 0 || out != "started\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
		}
	})
}

func TestKubectlLogsFollow(t *testing.T) {
	f := newFixture(t)
	id := f.start(t, "ticker", 0, "sh", "-c", `trap "echo bye; exit 0" TERM; echo one; echo two; while true; do sleep 0.05; done`)
	api := fakeAPIServer(t, f)
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/kubectl", "--server", api.URL, "--cache-dir", filepath.Join(dir, "cache"), "logs", "-f", "--tail=1", "ticker")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"), "HOME="+dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, func() bool { return out.String() == "two\n" }, "the last line", out)
	if err := f.rt.Stop(f.ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || out.String() != "two\nbye\n" {
			t.Fatalf("kubectl logs -f: %v, output %q", err, out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("kubectl logs -f did not end with the container; output %q", out.String())
	}
}

// openPTY opens a pseudo-terminal pair of the given size.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestKubectlExecInteractive runs `kubectl exec -it` under a pseudo-terminal, as a person
// would: a shell in the container sees a terminal of the local size and its exit code
// becomes kubectl's.
func TestKubectlExecInteractive(t *testing.T) {
	f := newFixture(t)
	f.start(t, "echo", 0, "sleep", "1000")
	api := fakeAPIServer(t, f)
	master, slave := openPTY(t, 33, 120)
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/kubectl", "--server", api.URL, "--cache-dir", filepath.Join(dir, "cache"), "exec", "-it", "echo", "--", "sh")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "none"), "HOME="+dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	go io.Copy(out, master)
	waitFor(t, func() bool { return strings.Contains(out.String(), "# ") }, "a shell prompt", out)
	io.WriteString(master, "stty size; tty; exit 4\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 4 {
			t.Fatalf("kubectl exit %v; terminal:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("kubectl exec -it did not end; terminal:\n%s", out.String())
	}
	if got := out.String(); !strings.Contains(got, "33 120") || !strings.Contains(got, "/dev/pts/") {
		t.Fatalf("terminal:\n%s", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, cond func() bool, what string, out fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s; got:\n%s", what, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
