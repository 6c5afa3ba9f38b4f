package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"webkube/web/browsertest"
	"webkube/web/examples"
)

// TestDashboard drives the dashboard of the real webkube binary (real kubelet on
// containerd) in headless Chromium, as a learner uses it: the seed's pods pasted in the
// editor, logs and a shell on the object page, and a probe made to fail.
func TestDashboard(t *testing.T) {
	c := startCluster(t, "10.249.0.0/16", "wkd")
	ctx := dashBrowser(t)
	base := "http://" + c.addr

	// First, while the cluster is empty: the seed's echo pod as printed (apiVerison).
	t.Run("TypoShownAtLineNothingCreated", func(t *testing.T) {
		c.t = t
		dashRun(t, ctx, "open editor", 20*time.Second, chromedp.Navigate(base+"/editor"), chromedp.WaitVisible(chromedp.CSS(`#yaml`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		dashRun(t, ctx, "paste typo and apply", 10*time.Second, browsertest.SetEditor(examples.Get("echo-pod-typo")), chromedp.Click(chromedp.CSS(`#apply`)))
		dashWaitJS(t, ctx, "error shown", `!!document.querySelector('[data-testid=error]')`, 10*time.Second)
		dashShot(t, ctx, "editor-typo")
		// The typo is on line 2 of the pasted text (line 1 is the file-name comment).
		if line := dashEval(t, ctx, `(document.querySelector('[data-testid=error][data-field=apiVerison]') || {dataset: {}}).dataset.line || ''`); line != "2" {
			t.Errorf("apiVerison error at line %q, want 2; errors: %s", line, dashEval(t, ctx, `document.querySelector('#results').textContent`))
		}
		if g := dashEval(t, ctx, `Array.from(document.querySelectorAll('[data-testid=gutter-err]')).map(e => e.dataset.line).join(',')`); !strings.Contains(g, "2") {
			t.Errorf("editor gutter marks lines %q, want 2", g)
		}
		time.Sleep(time.Second) // an apply that slipped through would show by now
		if out := c.mustKubectl("get", "pods", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("pods after a refused apply:\n%s", out)
		}
	})

	t.Run("EchoPodFiveSteps", func(t *testing.T) {
		c.t = t
		dashRun(t, ctx, "open editor", 20*time.Second, chromedp.Navigate(base+"/editor"), chromedp.WaitVisible(chromedp.CSS(`#yaml`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		dashRun(t, ctx, "paste and apply", 10*time.Second, browsertest.SetEditor(seedEchoPod), chromedp.Click(chromedp.CSS(`#apply`)))
		dashWaitJS(t, ctx, "applied", `!!document.querySelector('[data-testid=result][data-ok=true]')`, 10*time.Second)
		if got := dashEval(t, ctx, `document.querySelector('#results').textContent`); !strings.Contains(got, "Pod/echo created") {
			t.Errorf("apply result %q", got)
		}
		// A real image pull/unpack and containerd start: give step 5 time.
		dashWaitJS(t, ctx, "five steps", `document.querySelectorAll('#steps li[data-flow=pod][data-name=echo]').length >= 5`, 60*time.Second)
		dashShot(t, ctx, "editor-echo-steps")
		got := dashEval(t, ctx, `Array.from(document.querySelectorAll('#steps li[data-flow=pod][data-name=echo]')).map(l => l.dataset.n + ':' + l.dataset.comp + ':' + l.dataset.node).join(' ')`)
		if want := "1:scheduler: 2:scheduler:node-1 3:kubelet:node-1 4:containerd:node-1 5:kubelet:node-1"; got != want {
			t.Errorf("steps %q\nwant  %q", got, want)
		}
		dashRun(t, ctx, "overview", 20*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#tbody-pods`)))
		dashWaitJS(t, ctx, "pod Running", `(() => { const r = document.getElementById('row-pod-default-echo'); return !!r && r.dataset.status === 'Running' })()`, 60*time.Second)
		dashShot(t, ctx, "overview")
		if out := c.jsonpath("pod/echo", "{.status.phase} {.spec.nodeName}"); out != "Running node-1" {
			t.Errorf("kubectl says pod echo is %q, want Running on node-1", out)
		}
	})

	t.Run("LogsFollowAndExec", func(t *testing.T) {
		c.t = t
		dashRun(t, ctx, "pod page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/echo"), chromedp.WaitVisible(chromedp.CSS(`#log-out`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		dashWaitJS(t, ctx, "logs following", `document.querySelector('#log-state').textContent === 'following' && document.querySelector('#log-out').textContent.includes('echo server listening')`, 20*time.Second)
		ip := c.jsonpath("pod/echo", "{.status.podIP}")
		if body, err := httpGet("http://" + ip + ":3000/from-the-dashboard-test"); err != nil || !strings.Contains(body, "Hostname: echo") {
			t.Fatalf("curl %s:3000: %v\n%s", ip, err, body)
		}
		start := time.Now()
		dashWaitJS(t, ctx, "new log line shown", `document.querySelector('#log-out').textContent.includes('GET /from-the-dashboard-test')`, 10*time.Second)
		t.Logf("request → its log line in the page: %v", time.Since(start).Round(time.Millisecond))
		dashShot(t, ctx, "pod-logs")

		dashRun(t, ctx, "connect terminal", 10*time.Second, chromedp.Click(chromedp.CSS(`#exec-start`)))
		dashWaitJS(t, ctx, "terminal connected", `document.querySelector('#exec-state').textContent === 'connected'`, 20*time.Second)
		dashWaitJS(t, ctx, "prompt", browsertest.TermText+`.trim().length > 0`, 10*time.Second)
		dashRun(t, ctx, "type ls", 10*time.Second, browsertest.TypeTerm("ls\r"))
		dashWaitJS(t, ctx, "ls output", browsertest.TermListedRoot, 10*time.Second)
		dashShot(t, ctx, "pod-exec")
		c.mustKubectl("delete", "pod", "echo", "--wait=true")
	})

	// The pod page opened before the container starts follows its log once it does; "Kill
	// container" kills the container chosen beside it (not the terminal's), says how it
	// exited, and the log goes on with the restarted instance.
	t.Run("LogsWaitKillFollowsRestart", func(t *testing.T) {
		c.t = t
		c.apply(tickerPod)
		dashRun(t, ctx, "ticker page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/ticker"), chromedp.WaitVisible(chromedp.CSS(`#log-out`)))
		dashWaitJS(t, ctx, "waiting for the container", `document.querySelector('#log-state').textContent.includes('waiting for container app')`, 10*time.Second)
		dashShot(t, ctx, "logs-waiting")
		dashWaitJS(t, ctx, "following once started", `document.querySelector('#log-state').textContent === 'following' && document.querySelector('#log-out').textContent.includes('tick 3')`, 60*time.Second)
		// The terminal's picker says side, the kill's says app: app is the one killed.
		dashRun(t, ctx, "pick", 5*time.Second, chromedp.SetValue(chromedp.CSS(`#exec-container`), "side"), chromedp.SetValue(chromedp.CSS(`#act-container`), "app"))
		dashRun(t, ctx, "kill", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=kill]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=confirm-ok]`)), chromedp.Click(chromedp.CSS(`[data-testid=confirm-ok]`)))
		dashWaitJS(t, ctx, "kill result", `!document.querySelector('#kill-result').hidden`, 20*time.Second)
		res := dashEval(t, ctx, `document.querySelector('#kill-result').textContent`)
		t.Logf("kill says: %s", res)
		// Kill is `kill -TERM 1` over pods/exec: app's shell traps TERM and exits 0.
		if !strings.Contains(res, "code 0") || !strings.Contains(res, "app") || !strings.Contains(res, "restarts: 1") {
			t.Errorf("kill result %q, want app's exit code 0 (its TERM trap) and one restart", res)
		}
		if rc := c.jsonpath("pod/ticker", "{.status.containerStatuses[?(@.name=='app')].restartCount} {.status.containerStatuses[?(@.name=='side')].restartCount}"); rc != "1 0" {
			t.Errorf("restart counts app, side = %q, want 1 0", rc)
		}
		// The log goes on with the new instance, which counts from 0 again.
		dashWaitJS(t, ctx, "log follows the new instance", `(() => {
			const r = document.querySelector('#log-out .ll.restart');
			if (!r) return false;
			let n = r.nextElementSibling, seen = false;
			for (; n; n = n.nextElementSibling) if (n.textContent === 'tick 2') seen = true;
			return seen && document.querySelector('#log-state').textContent === 'following';
		})()`, 30*time.Second)
		dashShot(t, ctx, "logs-after-kill")
		c.mustKubectl("delete", "pod", "ticker", "--wait=true")
	})

	t.Run("ProbeFailRestarts", func(t *testing.T) {
		c.t = t
		c.apply(seedProbePod)
		c.eventually(60*time.Second, "echo-probe Ready", func() (bool, string) {
			out := c.jsonpath("pod/echo-probe", "{.status.conditions[?(@.type=='Ready')].status}")
			return out == "True", out
		})
		dashRun(t, ctx, "probe pod page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/echo-probe"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=break-probe]`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		// kubectl apply, not the editor: the animator still shows the pod's five steps.
		dashWaitJS(t, ctx, "echo-probe's five steps", `document.querySelectorAll('#steps li[data-flow=pod][data-name=echo-probe]').length >= 5`, 10*time.Second)
		dashShot(t, ctx, "probe-pod-before")
		// The button runs, over pods/exec, what `kubectl exec echo-probe -- wget
		// 127.0.0.1:3000/_webkube/unhealthy` would: the echo server's switch.
		dashRun(t, ctx, "click make probe fail", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=break-probe]`), chromedp.NodeVisible))
		ip := c.jsonpath("pod/echo-probe", "{.status.podIP}")
		// The server answers 503 until the kubelet restarts it (liveness: period 5s,
		// failureThreshold 1); the restarted one answers 200 and turns Ready again.
		c.eventually(40*time.Second, "echo-probe restarted by its liveness probe and Ready again", func() (bool, string) {
			rc := c.jsonpath("pod/echo-probe", "{.status.containerStatuses[0].restartCount}")
			ready := c.jsonpath("pod/echo-probe", "{.status.conditions[?(@.type=='Ready')].status}")
			n, _ := strconv.Atoi(rc)
			return n >= 1 && ready == "True", "restartCount=" + rc + " ready=" + ready
		})
		ev := c.mustKubectl("get", "events", "--field-selector", "involvedObject.name=echo-probe")
		for _, want := range []string{"Liveness probe failed", "503", "Killing"} {
			if !strings.Contains(ev, want) {
				t.Errorf("events lack %q:\n%s", want, ev)
			}
		}
		if body, err := httpGet("http://" + ip + ":3000/after-restart"); err != nil || !strings.Contains(body, "Hostname: echo-probe") {
			t.Errorf("after the restart the pod answers %q (err %v), want its echo", body, err)
		}
		dashWaitJS(t, ctx, "page shows the restart", `document.body.textContent.includes('Killing') || document.body.textContent.includes('Liveness probe failed')`, 15*time.Second)
		dashShot(t, ctx, "probe-pod-after")
	})
}

// The browser helpers are web's own (web/browsertest).
var (
	dashBrowser = browsertest.Start
	dashRun     = browsertest.Run
	dashWaitJS  = browsertest.WaitJS
	dashEval    = browsertest.Eval
	dashShot    = browsertest.Shot
)

// tickerPod counts in its log; its init container holds it back a few seconds, so a page
// opened at once sees the container not started yet.
const tickerPod = `apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
    - name: wait
      image: busybox
      command: ["sleep", "4"]
  containers:
    - name: app
      image: busybox
      command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"]
    - name: side
      image: busybox
      command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`
