package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"webkube/internal/eventually"
	"webkube/web/browsertest"
)

// attached is a `webkube dashboard` process: the dashboard alone, attached to a cluster
// through a kubeconfig, sharing nothing in process with it.
type attached struct {
	addr string
	cmd  *exec.Cmd
	log  string
}

func runAttached(t *testing.T, kubeconfig string, extra ...string) *attached {
	t.Helper()
	a := &attached{addr: freeAddr(t), log: filepath.Join(t.TempDir(), "dashboard.log")}
	logf, err := os.Create(a.log)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(webkubeBin, append([]string{"dashboard", "--kubeconfig", kubeconfig, "--addr", a.addr}, extra...)...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { a.cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		a.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			a.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			t.Logf("dashboard log (tail):\n%s", tail(string(b), 40))
		}
	})
	eventually.That(t, 60*time.Second, "webkube dashboard ready", func() (bool, string) {
		select {
		case <-exited:
			b, _ := os.ReadFile(a.log)
			t.Fatalf("webkube dashboard exited at start:\n%s", tail(string(b), 40))
		default:
		}
		resp, err := http.Get("http://" + a.addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return a
}

// TestDashboardAttached runs `webkube dashboard --kubeconfig` against a second webkube's
// API server as an external cluster (a separate process, nothing in process shared) and
// drives it in Chromium: the overview, a pod's story inferred from watch events, logs,
// exec and Kill over pods/exec; step mode is not offered and says why.
func TestDashboardAttached(t *testing.T) {
	c := startCluster(t, "10.239.0.0/16", "wkat")
	a := runAttached(t, c.kubeconfig)
	// It started nothing else: no containerd, no child process at all.
	if kids, _ := exec.Command("pgrep", "-P", strconv.Itoa(a.cmd.Process.Pid)).Output(); strings.TrimSpace(string(kids)) != "" {
		t.Errorf("webkube dashboard has child processes: %s", kids)
	}
	ctx := dashBrowser(t)
	base := "http://" + a.addr

	c.apply(tickerPod)
	dashRun(t, ctx, "overview", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#tbody-pods`)))
	dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
	if got := dashEval(t, ctx, `(document.querySelector('[data-testid=cluster]') || {}).textContent || ''`); !strings.Contains(got, c.apiAddr) {
		t.Errorf("header names the cluster %q, want its server %s", got, c.apiAddr)
	}
	if dashEval(t, ctx, `String(!!document.querySelector('[data-testid=stepmode]') || !!document.querySelector('[data-testid=step-next]'))`) != "false" ||
		dashEval(t, ctx, `String(!!document.querySelector('[data-testid=stepmode-off]'))`) != "true" {
		t.Errorf("step mode offered on an attached cluster, or not said why")
	}
	dashWaitJS(t, ctx, "node-1 listed", `!!document.querySelector('[data-testid=node-row][data-name=node-1]')`, 10*time.Second)
	dashWaitJS(t, ctx, "ticker Running", `(() => { const r = document.getElementById('row-pod-default-ticker'); return !!r && r.dataset.status === 'Running' })()`, 90*time.Second)
	dashShot(t, ctx, "attached-overview")

	// The pod's story, from the watch events of the other process's components.
	dashRun(t, ctx, "pod page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/ticker"), chromedp.WaitVisible(chromedp.CSS(`#log-out`)))
	dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
	dashWaitJS(t, ctx, "ticker's five steps", `document.querySelectorAll('#steps li[data-flow=pod][data-name=ticker]').length >= 5`, 20*time.Second)
	got := dashEval(t, ctx, `Array.from(document.querySelectorAll('#steps li[data-flow=pod][data-name=ticker]')).slice(0, 5).map(l => l.dataset.n + ':' + l.dataset.comp).join(' ')`)
	if want := "1:scheduler 2:scheduler 3:kubelet 4:containerd 5:kubelet"; got != want {
		t.Errorf("ticker's story %q\nwant %q", got, want)
	}

	dashRun(t, ctx, "logs of app", 5*time.Second, chromedp.SetValue(chromedp.CSS(`#log-container`), "app"))
	dashWaitJS(t, ctx, "logs following", `document.querySelector('#log-out').textContent.includes('tick 3')`, 30*time.Second)

	dashRun(t, ctx, "connect terminal", 10*time.Second, chromedp.Click(chromedp.CSS(`#exec-start`)))
	dashWaitJS(t, ctx, "terminal connected", `document.querySelector('#exec-state').textContent === 'connected'`, 20*time.Second)
	dashRun(t, ctx, "type ls", 10*time.Second, browsertest.TypeTerm("ls\r"))
	dashWaitJS(t, ctx, "ls output", `/\bbin\b/.test(`+browsertest.TermText+`.split('ls').slice(1).join('ls'))`, 10*time.Second)
	dashShot(t, ctx, "attached-exec")

	// Kill over pods/exec: app's shell traps TERM and exits 0; the kubelet restarts it.
	dashRun(t, ctx, "pick app", 5*time.Second, chromedp.SetValue(chromedp.CSS(`#act-container`), "app"))
	dashRun(t, ctx, "kill", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=kill]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=confirm-ok]`)), chromedp.Click(chromedp.CSS(`[data-testid=confirm-ok]`)))
	dashWaitJS(t, ctx, "kill result", `!document.querySelector('#kill-result').hidden`, 20*time.Second)
	res := dashEval(t, ctx, `document.querySelector('#kill-result').textContent`)
	t.Logf("kill says: %s", res)
	if !strings.Contains(res, "code 0") || !strings.Contains(res, "restarts: 1") {
		t.Errorf("kill result %q, want exit code 0 (app's TERM trap) and one restart", res)
	}
	if rc := c.jsonpath("pod/ticker", "{.status.containerStatuses[?(@.name=='app')].restartCount} {.status.containerStatuses[?(@.name=='side')].restartCount}"); rc != "1 0" {
		t.Errorf("restart counts app, side = %q, want 1 0", rc)
	}
	c.mustKubectl("delete", "pod", "ticker", "--wait=true")
}

// A read-only service account's kubeconfig (bound to the view ClusterRole) sees the pods
// but no usable write button: Delete, Kill and Make probe fail are disabled with the API
// server's reason, and the kinds it may not list (nodes, Secrets) are said to be hidden.
func TestDashboardAttachedReadOnly(t *testing.T) {
	c := startCluster(t, "10.227.0.0/16", "wkro", "--nodes", "0", "--simulated-nodes", "1")
	c.apply(`apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: viewer-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: viewer, namespace: default}]
---
apiVersion: v1
kind: Pod
metadata: {name: seen}
spec:
  containers: [{name: app, image: busybox, command: [sleep, "3600"]}]
`)
	token := strings.TrimSpace(c.mustKubectl("create", "token", "viewer"))
	server := strings.TrimSpace(c.mustKubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	ca := strings.TrimSpace(c.mustKubectl("config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"))
	kc := filepath.Join(t.TempDir(), "viewer.kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: viewer, user: {token: %s}}]
contexts: [{name: viewer, context: {cluster: c, user: viewer}}]
current-context: viewer
`, server, ca, token)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("kubectl", "--kubeconfig", kc, "auth", "can-i", "delete", "pods").CombinedOutput(); strings.TrimSpace(string(out)) != "no" {
		t.Fatalf("kubectl auth can-i delete pods as viewer: %q, want no", out)
	}
	a := runAttached(t, kc)
	ctx := dashBrowser(t)
	base := "http://" + a.addr
	dashRun(t, ctx, "overview", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#tbody-pods`)))
	dashWaitJS(t, ctx, "pod seen", `!!document.getElementById('row-pod-default-seen')`, 20*time.Second)
	dashWaitJS(t, ctx, "delete disabled", `(() => { const b = document.querySelector('#row-pod-default-seen [data-act=delete]'); return !!b && b.disabled && b.title.includes('delete pods') })()`, 10*time.Second)
	if hidden := dashEval(t, ctx, `(document.querySelector('[data-testid=unwatchable]') || {}).textContent || ''`); !strings.Contains(hidden, "nodes") || !strings.Contains(hidden, "secrets") {
		t.Errorf("hidden kinds say %q, want nodes and secrets named", hidden)
	}
	dashShot(t, ctx, "readonly-overview")
	dashRun(t, ctx, "pod page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/seen"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=kill]`)))
	enabled := dashEval(t, ctx, `Array.from(document.querySelectorAll('[data-act=delete], [data-act=kill], [data-act=probe], #exec-start, [data-testid=label-editor] button')).filter(b => !b.disabled).map(b => b.dataset.testid || b.id).join(',')`)
	if enabled != "" {
		t.Errorf("write buttons enabled for a read-only user: %s", enabled)
	}
	title := dashEval(t, ctx, `document.querySelector('[data-testid=kill]').title`)
	t.Logf("Kill's title for the viewer: %s", title)
	if !strings.Contains(title, "create pods/exec") {
		t.Errorf("Kill's title %q, want the reason (create pods/exec)", title)
	}
}
