package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

const toolsEcho = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  annotations:
    kubernetes.io/change-cause: first echo
spec:
  replicas: 3
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: ghcr.io/subicura/echo:v1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector: {app: echo}
  ports:
  - port: 80
    targetPort: 3000
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: sh
    image: busybox
    command: ["sleep", "3600"]
`

func toolsViewport(w, h int64, mobile bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile})
		return err
	})
}

// TestDashboardTools drives the object pages' tools on the real binary (real pods on
// containerd, the iptables service proxy): "send requests" on a Service spreads N
// requests over its ready pods, one count each summing to N; the NodePort link answers;
// kubernetes and kube-dns say who answers them; Undo on the Deployment restores the
// previous image as a new revision; the probe card shows the seed probe pod's settings.
func TestDashboardTools(t *testing.T) {
	c := startCluster(t, "10.236.0.0/16", "wkw")
	ctx := dashBrowser(t)
	base := "http://" + c.addr
	c.apply(toolsEcho)
	c.eventually(90*time.Second, "three ready echo endpoints and a running client", func() (bool, string) {
		ips := strings.Fields(c.jsonpath("endpoints/echo", "{.subsets[*].addresses[*].ip}"))
		phase := c.jsonpath("pod/client", "{.status.phase}")
		return len(ips) == 3 && phase == "Running", fmt.Sprintf("endpoints %v, client %s", ips, phase)
	})
	ready := map[string]bool{}
	for _, p := range strings.Fields(c.jsonpath("endpoints/echo", "{.subsets[*].addresses[*].targetRef.name}")) {
		ready[p] = true
	}

	t.Run("SendRequests", func(t *testing.T) {
		c.t = t
		dashRun(t, ctx, "service page", 20*time.Second, chromedp.Navigate(base+"/o/service/default/echo"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=traffic-send]`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		const n = 12
		dashRun(t, ctx, "send", 10*time.Second, chromedp.SetValue(chromedp.CSS(`#traffic-n`), strconv.Itoa(n)), chromedp.Click(chromedp.CSS(`[data-testid=traffic-send]`)))
		start := time.Now()
		dashWaitJS(t, ctx, "result", `document.querySelector('#traffic-result').dataset.state === 'done'`, 60*time.Second)
		t.Logf("%d requests sent and attributed in %v", n, time.Since(start).Round(time.Millisecond))
		dashShot(t, ctx, "send-requests")
		rows := dashEval(t, ctx, `Array.from(document.querySelectorAll('[data-testid=traffic-pod]')).map(r => r.dataset.pod + '=' + r.dataset.n + ':' + r.dataset.ready).join(' ')`)
		t.Logf("spread: %s", rows)
		sum := 0
		seen := map[string]bool{}
		for _, f := range strings.Fields(rows) {
			pod, rest, _ := strings.Cut(f, "=")
			cnt, isReady, _ := strings.Cut(rest, ":")
			k, _ := strconv.Atoi(cnt)
			sum += k
			if !ready[pod] || isReady != "true" || seen[pod] {
				t.Errorf("row %q: not one row per ready pod %v", f, ready)
			}
			seen[pod] = true
		}
		if len(seen) != len(ready) || sum != n {
			t.Errorf("%d rows summing to %d; want one per ready pod (%d) summing to %d", len(seen), sum, len(ready), n)
		}
		if ok := dashEval(t, ctx, `document.querySelector('[data-testid=traffic-summary]').dataset.ok`); ok != strconv.Itoa(n) {
			t.Errorf("%s of %d requests answered: %s", ok, n, dashEval(t, ctx, `(document.querySelector('[data-testid=traffic-failure]') || {textContent: ''}).textContent`))
		}
		if from := dashEval(t, ctx, `document.querySelector('[data-testid=traffic-command]').textContent`); !strings.HasPrefix(from, "kubectl exec -n default client ") {
			t.Errorf("command %q, want it sent from the client pod", from)
		}
		// iptables mode counts connections, not bytes: no byte counts shown.
		if b := dashEval(t, ctx, `String(document.querySelectorAll('[data-testid=bytes]').length) + ' ' + (document.querySelector('[data-testid=traffic-counting]') || {textContent: ''}).textContent`); !strings.HasPrefix(b, "0 ") || !strings.Contains(b, "iptables") {
			t.Errorf("byte counts in iptables mode: %q", b)
		}
		href := dashEval(t, ctx, `document.querySelector('[data-testid=nodeport-link]').href`)
		np := c.jsonpath("service/echo", "{.spec.ports[0].nodePort}")
		if !strings.HasSuffix(href, ":"+np+"/") {
			t.Errorf("NodePort link %q, nodePort %s", href, np)
		}
		if body, err := httpGet(href); err != nil || !strings.Contains(body, "Hostname: echo-") {
			t.Errorf("NodePort link %s: %v %q", href, err, body)
		}
	})

	// Attached from outside (webkube dashboard --kubeconfig, another process), the counters
	// come the same way: from the API's /metrics, which carries the Service proxy's.
	t.Run("AttachedCounters", func(t *testing.T) {
		c.t = t
		if m := c.mustKubectl("get", "--raw", "/metrics"); !strings.Contains(m, `webkube_serviceproxy_endpoint_connections_total{namespace="default",service="echo",endpoint="`) {
			t.Fatalf("/metrics has no Service proxy counters for echo:\n%s", tail(m, 20))
		}
		a := runAttached(t, c.kubeconfig)
		actx := dashBrowser(t)
		dashRun(t, actx, "attached service page", 20*time.Second, chromedp.Navigate("http://"+a.addr+"/o/service/default/echo"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=traffic-send]`)))
		dashWaitJS(t, actx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		if s := dashEval(t, actx, `(document.querySelector('[data-testid=traffic-counting]') || {textContent: 'none'}).textContent + ' | ' + (document.querySelector('[data-testid=traffic-no-counters]') || {textContent: ''}).textContent`); !strings.Contains(s, "iptables") {
			t.Errorf("attached: counting says %q, want the iptables mode read from /metrics", s)
		}
		const n = 6
		dashRun(t, actx, "send", 10*time.Second, chromedp.SetValue(chromedp.CSS(`#traffic-n`), strconv.Itoa(n)), chromedp.Click(chromedp.CSS(`[data-testid=traffic-send]`)))
		dashWaitJS(t, actx, "result", `document.querySelector('#traffic-result').dataset.state === 'done'`, 60*time.Second)
		rows := dashEval(t, actx, `Array.from(document.querySelectorAll('[data-testid=traffic-pod]')).map(r => r.dataset.pod + '=' + r.dataset.n).join(' ')`)
		sum := 0
		for _, f := range strings.Fields(rows) {
			_, cnt, _ := strings.Cut(f, "=")
			k, _ := strconv.Atoi(cnt)
			sum += k
		}
		t.Logf("attached spread: %s", rows)
		if sum != n {
			t.Errorf("attached: counts %q sum to %d, want %d (read through /metrics)", rows, sum, n)
		}
		conns := dashEval(t, actx, `Array.from(document.querySelectorAll('[data-testid=conns]')).map(e => e.textContent).join(' ')`)
		if len(strings.Fields(conns)) != 3 {
			t.Errorf("attached endpoints' connection counts %q, want one per endpoint", conns)
		}
	})

	t.Run("KubernetesAndKubeDNS", func(t *testing.T) {
		c.t = t
		apiEndpoint := strings.TrimSpace(c.mustKubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[0].ip}"))
		if apiEndpoint == "" {
			t.Fatal("the kubernetes Service has no endpoint: pods could not reach the API server")
		}
		for _, s := range []struct{ path, kind, says string }{
			// webkube's API server also listens on the kubernetes ClusterIP, and that address
			// is the Service's endpoint: the page names it.
			{"/o/service/default/kubernetes", "apiserver", apiEndpoint},
			{"/o/service/kube-system/kube-dns", "dns", c.mustKubectl("get", "-n", "kube-system", "service/kube-dns", "-o", "jsonpath={.spec.clusterIP}")},
		} {
			dashRun(t, ctx, "open "+s.path, 20*time.Second, chromedp.Navigate(base+s.path), chromedp.WaitVisible(chromedp.CSS(`[data-testid=traffic]`)))
			got := dashEval(t, ctx, `document.querySelector('[data-testid=traffic]').dataset.kind + ' ' + document.querySelector('[data-testid=traffic-who]').textContent`)
			if !strings.HasPrefix(got, s.kind+" ") || !strings.Contains(got, s.says) || dashEval(t, ctx, `String(!!document.querySelector('[data-testid=traffic-send]'))`) != "false" {
				t.Errorf("%s: %q, want kind %s naming %s and no send button", s.path, got, s.kind, s.says)
			}
		}
	})

	// The card follows the Service: made a NodePort while its page is open, the link
	// appears without a reload, naming this machine as the page reached it.
	t.Run("TrafficCardFollowsTheService", func(t *testing.T) {
		c.t = t
		c.mustKubectl("create", "service", "clusterip", "live", "--tcp=80:3000")
		dashRun(t, ctx, "open live", 20*time.Second, chromedp.Navigate(base+"/o/service/default/live"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=traffic]`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		if n := dashEval(t, ctx, `String(document.querySelectorAll('[data-testid=nodeport-link]').length)`); n != "0" {
			t.Fatalf("a ClusterIP Service shows %s NodePort links", n)
		}
		c.mustKubectl("patch", "service", "live", "-p", `{"spec":{"type":"NodePort"}}`)
		np := c.jsonpath("service/live", "{.spec.ports[0].nodePort}")
		dashWaitJS(t, ctx, "NodePort link without a reload", `(() => { const a = document.querySelector('[data-testid=nodeport-link]');
			return !!a && a.href === 'http://' + location.hostname + ':`+np+`/' && a.textContent === a.href })()`, 20*time.Second)
		c.mustKubectl("delete", "service", "live")
	})

	t.Run("UndoRestoresImage", func(t *testing.T) {
		c.t = t
		c.mustKubectl("set", "image", "deployment/echo", "echo=ghcr.io/subicura/echo:v2")
		dashRun(t, ctx, "deployment page", 20*time.Second, chromedp.Navigate(base+"/o/deployment/default/echo"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=rollout]`)))
		dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
		dashWaitJS(t, ctx, "revision 2 shown", `document.querySelector('[data-testid=rollout]').dataset.revision === '2'`, 20*time.Second)
		dashShot(t, ctx, "rollout-v2")
		// Clicked from within the page: the live card may be re-rendered mid-click.
		dashWaitJS(t, ctx, "undo", `(() => { const b = document.querySelector('[data-testid=rollout-undo]'); if (!b || b.disabled) return false; b.click(); return true })()`, 10*time.Second)
		dashWaitJS(t, ctx, "revision 3 shown", `document.querySelector('[data-testid=rollout]').dataset.revision === '3' && document.querySelector('[data-testid=revision][data-current=true]').dataset.revision === '3'`, 20*time.Second)
		if img := c.jsonpath("deployment/echo", "{.spec.template.spec.containers[0].image}"); img != "ghcr.io/subicura/echo:v1" {
			t.Errorf("after Undo kubectl says the image is %s", img)
		}
		hist := c.mustKubectl("rollout", "history", "deployment/echo")
		if !regexp.MustCompile(`(?m)^3\s+first echo\s*$`).MatchString(hist) {
			t.Errorf("kubectl rollout history after Undo:\n%s", hist)
		}
		c.mustKubectl("rollout", "status", "deployment/echo", "--timeout=60s")
		dashWaitJS(t, ctx, "bar: only the new ReplicaSet, all available", `(() => { const s = document.querySelectorAll('[data-testid=rollout-set]'); return s.length === 1 && s[0].dataset.new === 'true' && document.querySelectorAll('.rbar .slot.new.avail').length === 3 })()`, 30*time.Second)
		dashShot(t, ctx, "rollout-undone")
	})

	t.Run("ProbeCard", func(t *testing.T) {
		c.t = t
		c.apply(seedProbePod)
		dashRun(t, ctx, "probe pod page", 20*time.Second, chromedp.Navigate(base+"/o/pod/default/echo-probe"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=probes]`)))
		dashWaitJS(t, ctx, "ready with its IP", `(document.querySelector('[data-kind=readiness] [data-testid=probe-target]') || {textContent: ''}).textContent.startsWith('http://10.236.')`, 60*time.Second)
		got := dashEval(t, ctx, `Array.from(document.querySelectorAll('[data-testid=probe]')).map(p => [p.dataset.kind, p.dataset.handler, ...['delay', 'period', 'timeout', 'success', 'failure'].map(f => p.querySelector('[data-testid=probe-' + f + ']').textContent)].join(' ')).join(' | ')`)
		if got != "liveness httpGet 5 5 2 1 1 | readiness httpGet 5 5 2 1 1" {
			t.Errorf("probe card %q", got)
		}
	})

	t.Run("Layouts", func(t *testing.T) {
		c.t = t
		for _, size := range []struct {
			name   string
			w, h   int64
			mobile bool
		}{{"desktop", 1440, 900, false}, {"phone", 390, 844, true}} {
			dashRun(t, ctx, "viewport", 10*time.Second, toolsViewport(size.w, size.h, size.mobile))
			for _, p := range []struct{ url, sel string }{
				{"/o/service/default/echo", `[data-testid=traffic]`},
				{"/o/deployment/default/echo", `[data-testid=rollout]`},
				{"/o/pod/default/echo-probe", `[data-testid=probes]`},
			} {
				dashRun(t, ctx, "open "+p.url, 20*time.Second, chromedp.Navigate(base+p.url), chromedp.WaitVisible(chromedp.CSS(p.sel)))
				if p.sel == `[data-testid=traffic]` {
					dashRun(t, ctx, "send", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=traffic-send]`), chromedp.NodeVisible))
					dashWaitJS(t, ctx, "result", `document.querySelector('#traffic-result').dataset.state === 'done'`, 60*time.Second)
				}
				sideways := fmt.Sprintf(`Array.from(document.querySelectorAll('%[1]s, %[1]s table, %[1]s pre')).filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(e => (e.dataset.testid || e.tagName) + ' ' + e.scrollWidth + '>' + e.clientWidth).join(', ')`, p.sel)
				if bad := dashEval(t, ctx, sideways); bad != "" {
					t.Errorf("%s %s: scrolls sideways: %s", size.name, p.url, bad)
				}
				dashShot(t, ctx, size.name+strings.ReplaceAll(p.url, "/", "-"))
			}
		}
	})
}
