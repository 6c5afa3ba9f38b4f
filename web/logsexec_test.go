package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/apiserver/apiservertest"
	wkcd "webkube/runtime/containerd"
	"webkube/runtime/containers"
	"webkube/runtime/containers/containerstest"
	"webkube/runtime/kubeletserver"
	"webkube/web/browsertest"
)

// Logs and the terminal against a real container: busybox on containerd, served by
// webkube's kubelet server, proxied by the real API server, bridged by the dashboard.
func TestBrowserLogsAndExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs a container on containerd and needs root (Debian packages containerd and runc)")
	}
	cenv, err := containerstest.Start()
	if err != nil {
		t.Fatalf("this test needs containerd (Debian packages containerd and runc): %v", err)
	}
	t.Cleanup(cenv.Stop)
	cctx, cancel := context.WithCancel(containerstest.Ctx())
	t.Cleanup(cancel)
	img, err := cenv.Busybox(cctx, "test/busybox:1", containerstest.ImageConfig{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := containers.New(containers.Config{Client: cenv.Client, RuncRoot: wkcd.RuncRoot(cenv.Daemon.DataDir()), DataDir: filepath.Join(t.TempDir(), "kubelet")})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(cctx); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox",
			Command:        []string{"sh", "-c", "touch /tmp/healthy; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}}}}}}

	api := apiservertest.Start(t)
	cs := api.Clientset()
	ctx := context.Background()
	created, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := rt.Create(cctx, containers.CreateOptions{Pod: created, Container: &created.Spec.Containers[0], Image: img})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Remove(containerstest.Ctx(), id) })
	if err := rt.StartContainer(cctx, id); err != nil {
		t.Fatal(err)
	}
	ks, err := kubeletserver.New(kubeletserver.Config{Runtime: rt, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Certificate: api.KubeletServing(t), ClientCAs: api.CA.Pool(),
		Lookup: kubeletserver.LookupFunc(func(_ context.Context, ns, p, c string) (string, error) {
			if ns == "default" && p == "echo" && c == "app" {
				return id, nil
			}
			return "", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, p)
		})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ks.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kl := &http.Server{Handler: ks}
	go kl.Serve(ln)
	t.Cleanup(func() { kl.Close() })
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Report the container running, as the kubelet would: the page follows the log of the
	// instance the pod's status names.
	bound, err := cs.CoreV1().Pods("default").Get(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
		ContainerID: "containerd://" + id, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, bound, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	d, err := New(Config{Client: cs, RESTConfig: api.RESTConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithCancel(ctx)
	t.Cleanup(dcancel)
	if err := d.Start(dctx); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	d.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	b := browser(t)
	run(t, b, "pod page", 20*time.Second, chromedp.Navigate(srv.URL+"/o/pod/default/echo"))
	waitJS(t, b, "first lines", `document.querySelector('#log-out').textContent.includes('tick 2')`, 15*time.Second)
	// Following: lines the container writes later arrive without a reload.
	n := evalString(t, b, `String(document.querySelectorAll('#log-out .ll').length)`)
	waitJS(t, b, "live lines", `document.querySelectorAll('#log-out .ll').length >= `+n+` + 5`, 10*time.Second)
	if s := evalString(t, b, `document.querySelector('#log-state').textContent`); s != "following" {
		t.Errorf("log state %q", s)
	}
	// Search hides the lines that do not match.
	run(t, b, "search", 5*time.Second, chromedp.SendKeys(css(`#log-search`), "tick 1"))
	waitJS(t, b, "filtered", `Array.from(document.querySelectorAll('#log-out .ll')).every(l => l.hidden === !l.textContent.includes('tick 1'))`, 5*time.Second)
	// Wrap toggles.
	run(t, b, "wrap", 5*time.Second, click(`#log-wrap`))
	waitJS(t, b, "wrapped", `document.querySelector('#log-out').classList.contains('wrapped')`, 5*time.Second)

	// The terminal runs ls in the container.
	run(t, b, "connect", 10*time.Second, click(`#exec-start`))
	waitJS(t, b, "connected", `document.querySelector('#exec-state').textContent === 'connected'`, 10*time.Second)
	run(t, b, "type ls", 10*time.Second, browsertest.TypeTerm("ls /\r"))
	waitJS(t, b, "ls output", `(() => { const s = `+browsertest.TermText+`; return s.includes('bin') && s.includes('etc') && s.includes('proc') })()`, 10*time.Second)
	// The TTY has the terminal's size (resize messages reach the container), and top, a
	// full-screen program, clears the screen and draws its table from the first row.
	run(t, b, "stty size", 10*time.Second, browsertest.TypeTerm("stty size\r"))
	waitJS(t, b, "tty size", `(() => { const t = wk.term.term; return t.rows > 10 && t.cols > 40 && wk.term.text().includes(t.rows + ' ' + t.cols) })()`, 10*time.Second)
	run(t, b, "top", 10*time.Second, browsertest.TypeTerm("top\r"))
	waitJS(t, b, "top draws", `(() => { const s = wk.term.screen(); return s.startsWith('Mem:') && s.includes('PID') })()`, 10*time.Second)
	shot(t, b, "top")
	run(t, b, "quit top", 10*time.Second, browsertest.TypeTerm("q"))
	waitJS(t, b, "prompt after top", `(() => { const l = wk.term.screen().split('\n').filter(x => x.trim()); return /# ?$/.test(l[l.length - 1]) })()`, 10*time.Second)
	// vi, another full-screen program: it draws its empty buffer (a column of ~), takes
	// insert mode and Escape, and writes the file.
	run(t, b, "vi", 10*time.Second, browsertest.TypeTerm("vi /tmp/note\r"))
	waitJS(t, b, "vi draws", `(() => { const l = wk.term.screen().split('\n'); return l.filter(x => x.startsWith('~')).length >= wk.term.term.rows - 3 })()`, 10*time.Second)
	shot(t, b, "vi")
	run(t, b, "type in vi", 10*time.Second, browsertest.TypeTerm("ihello from vi"))
	waitJS(t, b, "vi shows the text", `wk.term.screen().includes('hello from vi')`, 10*time.Second)
	run(t, b, "escape", 10*time.Second, browsertest.TypeTerm("\x1b"))
	// vi reads a lone Escape only after its escape-sequence timeout: there is nothing on the
	// screen to wait for, so give it that time before the next key.
	time.Sleep(500 * time.Millisecond)
	run(t, b, "write and quit", 10*time.Second, browsertest.TypeTerm(":wq\r"))
	waitJS(t, b, "prompt after vi", `(() => { const l = wk.term.screen().split('\n').filter(x => x.trim()); return /# ?$/.test(l[l.length - 1]) })()`, 10*time.Second)
	run(t, b, "cat", 10*time.Second, browsertest.TypeTerm("cat /tmp/note\r"))
	waitJS(t, b, "vi wrote the file", `wk.term.screen().split('\n').some(x => x.trim() === 'hello from vi')`, 10*time.Second)
	run(t, b, "type exit", 10*time.Second, browsertest.TypeTerm("exit 3\r"))
	waitJS(t, b, "exit code", `document.querySelector('#exec-state').textContent.includes('3')`, 10*time.Second)
	shot(t, b, "logs-exec")

	// Break it: "Make probe fail" removes the file the exec probe reads, through pods/exec.
	var out strings.Builder
	if err := d.execOnce(ctx, "default", "echo", "app", []string{"ls", "/tmp"}, &out); err != nil || !strings.Contains(out.String(), "healthy") {
		t.Fatalf("before: ls /tmp = %q, %v", out.String(), err)
	}
	run(t, b, "break probe", 10*time.Second, click(`[data-testid=break-probe]`))
	waitJS(t, b, "toast", `document.querySelector('#toast').textContent.includes('rm -f /tmp/healthy')`, 10*time.Second)
	out.Reset()
	if err := d.execOnce(ctx, "default", "echo", "app", []string{"ls", "/tmp"}, &out); err != nil || strings.Contains(out.String(), "healthy") {
		t.Errorf("after: ls /tmp = %q, %v", out.String(), err)
	}
	var ee *ExitError
	if err := d.execOnce(ctx, "default", "echo", "app", []string{"cat", "/tmp/healthy"}, io.Discard); !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("probe command after breaking: %v, want exit code 1", err)
	}
	if got := evalString(t, b, browsertest.TermText); !strings.Contains(got, "exit 3") {
		t.Errorf("terminal did not echo the command: %q", got)
	}
}
