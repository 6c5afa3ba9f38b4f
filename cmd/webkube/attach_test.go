package main

import (
	"fmt"
	"io"
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
	dashWaitJS(t, ctx, "ls output", browsertest.TermListedRoot, 10*time.Second)
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

// TestDashboardAttachedScale attaches to a cluster of 50 simulated nodes and 2,000 pods:
// the overview shows one page of pods (the server pages and filters, so the page's HTML,
// its websocket snapshot and its DOM stay bounded), the diagram groups the nodes beyond
// what fits into one box counting their pods, and the page loads and goes live. The
// figures are logged.
func TestDashboardAttachedScale(t *testing.T) {
	c := startCluster(t, "10.226.0.0/16", "wksc", "--nodes", "0", "--simulated-nodes", "50")
	var docs []string
	for i := 0; i < 20; i++ {
		docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: scale-%d
spec:
  replicas: 100
  selector: {matchLabels: {app: scale-%d}}
  template:
    metadata: {labels: {app: scale-%d}}
    spec:
      containers: [{name: app, image: busybox}]
`, i, i, i))
	}
	c.apply(strings.Join(docs, "---\n"))
	start := time.Now()
	c.eventually(5*time.Minute, "2,000 pods Running", func() (bool, string) {
		out, _ := c.kubectl("get", "pods", "--no-headers", "--field-selector", "status.phase=Running", "-o", "name")
		n := len(strings.Fields(out))
		return n >= 2000, fmt.Sprint(n, " Running")
	})
	t.Logf("2,000 pods Running on 50 simulated nodes in %v", time.Since(start).Round(time.Second))

	a := runAttached(t, c.kubeconfig)
	res, err := http.Get("http://" + a.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ctx := dashBrowser(t)
	dashRun(t, ctx, "browser started", 60*time.Second, chromedp.Navigate("about:blank")) // not the page's time
	start = time.Now()
	dashRun(t, ctx, "overview", 60*time.Second, chromedp.Navigate("http://"+a.addr+"/"), chromedp.WaitVisible(chromedp.CSS(`#tbody-pods`)))
	loaded := time.Since(start)
	dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 60*time.Second)
	live := time.Since(start)
	dashWaitJS(t, ctx, "diagram drawn", `document.querySelectorAll('#animator rect.dg-node').length > 0`, 10*time.Second)
	rows := dashEval(t, ctx, `String(document.querySelectorAll('[data-testid=pod-row]').length)`)
	pager := dashEval(t, ctx, `(() => { const p = document.querySelector('[data-testid=pod-pager]'); return p ? p.dataset.total + ' ' + p.dataset.matched + ' ' + p.textContent.trim() : 'none' })()`)
	nodes := dashEval(t, ctx, `String(document.querySelectorAll('[data-testid=node-row]').length)`)
	boxes := dashEval(t, ctx, `String(document.querySelectorAll('#animator rect.dg-node').length)`)
	group := dashEval(t, ctx, `(() => { const g = document.querySelector('#animator [data-node-group]'); return g ? g.dataset.nodeGroup + ' ' + Array.from(document.querySelectorAll('#animator .dg-nodename')).pop().textContent : 'none' })()`)
	tokens := dashEval(t, ctx, `String(document.querySelectorAll('#animator .dg-token').length)`)
	dom := dashEval(t, ctx, `String(document.getElementsByTagName('*').length)`)
	snap := dashEval(t, ctx, `String(Math.round((window.wk.snapBytes || 0) / 1024))`)
	heap := dashEval(t, ctx, `String(Math.round(performance.memory.usedJSHeapSize / 1048576))`)
	rss := processRSSMiB(a.cmd.Process.Pid)
	t.Logf("navigation timing (ms from start): %s", dashEval(t, ctx, `(() => { const n = performance.getEntriesByType('navigation')[0]; return ['responseStart', 'responseEnd', 'domInteractive', 'domContentLoadedEventEnd', 'loadEventEnd'].map(k => k + ' ' + Math.round(n[k])).join(', ') })()`))
	t.Logf("attached overview with 50 nodes, 2,000 pods: HTML %d KiB, loaded %v, live %v; snapshot %s KiB; %s pod rows (pager %q), %s node rows, %s diagram node boxes (group %q), %s pod tokens; %s DOM elements; tab heap %s MiB; dashboard RSS %d MiB",
		len(body)/1024, loaded.Round(time.Millisecond), live.Round(time.Millisecond), snap, rows, pager, nodes, boxes, group, tokens, dom, heap, rss)
	dashShot(t, ctx, "attached-scale")
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	// A bound, not a speed check (the figure is logged above): CI's runs were live within
	// 5 s; at load 20-35 on two cores it took 9.6 s, mostly Chromium parsing the page.
	// What keeps it bounded at any load is one page of pods, checked below.
	if live > 30*time.Second {
		t.Errorf("overview live after %v, want within 30s", live)
	}
	if len(body) > 512<<10 {
		t.Errorf("overview HTML is %d KiB, want at most 512 KiB (one page of pods)", len(body)>>10)
	}
	if n(snap) > 512 {
		t.Errorf("websocket snapshot %s KiB, want at most 512 KiB", snap)
	}
	if n(rows) != 100 || !strings.HasPrefix(pager, "2000 2000 1–100 of 2000 pods") {
		t.Errorf("pods table: %s rows, pager %q; want one page of 100 rows of 2000", rows, pager)
	}
	if n(boxes) > 8 || group != "43 +43 nodes" {
		t.Errorf("diagram: %s node boxes, group %q; want at most 8 boxes, the last grouping 43 nodes", boxes, group)
	}
	if n(tokens) > 600 || n(dom) > 6000 {
		t.Errorf("page has %s pod tokens and %s elements; want at most 600 and 6000", tokens, dom)
	}
	if n(heap) > 100 {
		t.Errorf("tab heap %s MiB, want at most 100", heap)
	}
	if rss > 512 {
		t.Errorf("dashboard RSS %d MiB, want at most 512 MiB", rss)
	}
	pagerIs := func(what, want string) {
		t.Helper()
		dashWaitJS(t, ctx, what, fmt.Sprintf(`(() => { const p = document.querySelector('[data-testid=pod-pager]'); return !!p && p.textContent.trim() === %q })()`, want), 10*time.Second)
	}
	// The next page comes from the server.
	first := dashEval(t, ctx, `document.querySelector('[data-testid=pod-row]').dataset.name`)
	dashRun(t, ctx, "next page", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=pods-next]`)))
	pagerIs("second page", "101–200 of 2000 pods")
	if s := dashEval(t, ctx, `document.querySelector('[data-testid=pod-row]').dataset.name`); s == first || n(dashEval(t, ctx, `String(document.querySelectorAll('[data-testid=pod-row]').length)`)) != 100 {
		t.Errorf("second page starts with %s (the first started with %s)", s, first)
	}
	// The filter finds pods on any page: scale-7's 100 pods.
	t0 := time.Now()
	dashRun(t, ctx, "filter", 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#filter`), "scale-7"))
	pagerIs("filtered", "1–100 of 100 pods matching “scale-7” (2000 in all)")
	filtered := time.Since(t0)
	if s := dashEval(t, ctx, `Array.from(document.querySelectorAll('[data-testid=pod-row]')).filter(r => !r.dataset.name.startsWith('scale-7-')).map(r => r.dataset.name).join(',')`); s != "" {
		t.Errorf("filtered rows not of scale-7: %s", s)
	}
	t.Logf("next page and filter answered by the server; filter typed to page shown in %v", filtered.Round(time.Millisecond))
	// A pod of the filtered page that is deleted leaves it live; its replacement joins it.
	victim := dashEval(t, ctx, `document.querySelector('[data-testid=pod-row]').dataset.name`)
	c.mustKubectl("delete", "pod", victim, "--wait=false")
	dashWaitJS(t, ctx, "deleted pod leaves the page", fmt.Sprintf(`!Array.from(document.querySelectorAll('[data-testid=pod-row]')).some(r => r.dataset.name === %q && r.dataset.status !== 'Terminating')`, victim), 20*time.Second)
	pagerIs("replacement counted", "1–100 of 100 pods matching “scale-7” (2000 in all)")
}

// processRSSMiB reads a process's resident memory from /proc.
func processRSSMiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return -1
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
