package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The animator on the real binary (containerd, real probes): failures are drawn in red
// with the kubelet's reason, a probe changes the Service's endpoints, and deleting a
// running pod shows the kubelet stopping its containers before the API server removes it.
func TestDashboardAnimatorFailures(t *testing.T) {
	c := startCluster(t, "10.236.0.0/16", "wkn")
	ctx := dashBrowser(t)
	dashRun(t, ctx, "overview", 20*time.Second, chromedp.Navigate("http://"+c.addr+"/"))
	dashWaitJS(t, ctx, "live", `!!(window.wk && window.wk.ready && window.wkDiagram)`, 10*time.Second)
	dashWaitJS(t, ctx, "fast", `window.wkDiagram.setSpeed('fast'); true`, 5*time.Second)
	// drawn waits until the diagram has drawn arrow p ("n:from→to:style:Kind/name").
	drawn := func(t *testing.T, p string) {
		t.Helper()
		dashWaitJS(t, ctx, "drawn "+p, fmt.Sprintf(`window.wkDiagram.state.played.includes(%q)`, p), 60*time.Second)
	}
	stepTitle := func(t *testing.T, sel string) string {
		t.Helper()
		dashWaitJS(t, ctx, sel, fmt.Sprintf(`!!document.querySelector(%q)`, sel), 90*time.Second)
		return dashEval(t, ctx, fmt.Sprintf(`document.querySelector(%q).querySelector('.st-title').textContent`, sel))
	}

	t.Run("ImagePull", func(t *testing.T) {
		c.t = t
		// Nothing listens on port 9: the pull fails at once, as a registry that is down does.
		c.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: nopull}\nspec:\n  containers:\n    - {name: app, image: 127.0.0.1:9/none:v1}\n")
		node := ""
		c.eventually(30*time.Second, "nopull bound", func() (bool, string) {
			node = c.jsonpath("pod/nopull", "{.spec.nodeName}")
			return node != "", "no node"
		})
		for _, reason := range []string{"ErrImagePull", "ImagePullBackOff"} {
			got := stepTitle(t, `#steps li.fail[data-reason=`+reason+`][data-name=nopull]`)
			if want := "containerd cannot pull image 127.0.0.1:9/none:v1 for app: " + reason; got != want {
				t.Errorf("%s step %q, want %q", reason, got, want)
			}
		}
		drawn(t, "4:kubelet/"+node+"→containerd/"+node+":fail:Pod/nopull")
		if n := dashEval(t, ctx, `String(document.querySelectorAll('#steps li[data-flow=pod][data-n="4"][data-name=nopull]:not(.fail)').length)`); n != "0" {
			t.Errorf("a pod whose image cannot be pulled shows %s ordinary 'containerd creates the containers' steps", n)
		}
		dashShot(t, ctx, "anim-image-pull")
		c.mustKubectl("delete", "pod", "nopull", "--grace-period=0", "--force")
	})

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		c.t = t
		c.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: crash}\nspec:\n  containers:\n    - {name: app, image: busybox, command: [sh, -c, 'exit 3']}\n")
		got := stepTitle(t, `#steps li.fail[data-reason=CrashLoopBackOff][data-name=crash]`)
		if !strings.HasPrefix(got, "container app of crash keeps failing (CrashLoopBackOff, ") {
			t.Errorf("CrashLoopBackOff step %q", got)
		}
		got = stepTitle(t, `#steps li.fail[data-reason=Restarted][data-name=crash]`)
		if want := "kubelet has containerd restart app of crash (restart 1; last: Error, exit code 3)"; got != want {
			t.Errorf("restart step %q, want %q", got, want)
		}
		node := c.jsonpath("pod/crash", "{.spec.nodeName}")
		drawn(t, "4:kubelet/"+node+"→containerd/"+node+":fail:Pod/crash")
		dashShot(t, ctx, "anim-crashloop")
		c.mustKubectl("delete", "pod", "crash", "--grace-period=0", "--force")
	})

	t.Run("ProbesAndEndpoints", func(t *testing.T) {
		c.t = t
		c.apply(`apiVersion: v1
kind: Pod
metadata: {name: probed, labels: {app: probed}}
spec:
  containers:
    - name: app
      image: busybox
      command: ["sh", "-c", "touch /tmp/live /tmp/ready; exec sleep 3600"]
      livenessProbe: {exec: {command: ["cat", "/tmp/live"]}, periodSeconds: 1, failureThreshold: 1}
      readinessProbe: {exec: {command: ["cat", "/tmp/ready"]}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: probed}
spec: {selector: {app: probed}, ports: [{port: 80}]}
`)
		add := `#steps li[data-flow=endpoints][data-n="3"][data-name=probed]:not(.fail)`
		if got := stepTitle(t, add); got != "endpoints controller adds probed to Service/probed" {
			t.Errorf("endpoints step %q", got)
		}
		drawn(t, "3:endpoints-controller→apiserver:write:Service/probed")
		// Readiness fails: not ready, and out of the Service; not restarted.
		c.mustKubectl("exec", "probed", "--", "rm", "/tmp/ready")
		if got := stepTitle(t, `#steps li.fail[data-reason=NotReady][data-name=probed]`); got != "kubelet reports probed not ready: its readiness probe fails" {
			t.Errorf("not-ready step %q", got)
		}
		if got := stepTitle(t, `#steps li.fail[data-flow=endpoints][data-n="3"][data-name=probed]`); got != "endpoints controller removes probed from Service/probed" {
			t.Errorf("endpoints removal step %q", got)
		}
		dashShot(t, ctx, "anim-not-ready")
		// Liveness fails: red, and the kubelet has containerd restart the container; the new
		// instance is ready again and back in the Service.
		c.mustKubectl("exec", "probed", "--", "rm", "/tmp/live")
		if got := stepTitle(t, `#steps li.fail[data-reason=Unhealthy][data-name=probed]`); !strings.HasPrefix(got, "liveness probe of probed fails: Liveness probe failed") {
			t.Errorf("liveness step %q", got)
		}
		if got := stepTitle(t, `#steps li[data-reason=Restarted][data-name=probed]`); !strings.HasPrefix(got, "kubelet has containerd restart app of probed (restart 1; ") {
			t.Errorf("restart step %q", got)
		}
		node := c.jsonpath("pod/probed", "{.spec.nodeName}")
		drawn(t, "4:kubelet/"+node+"→containerd/"+node+":fail:Pod/probed")
		dashWaitJS(t, ctx, "back in the Service", `document.querySelectorAll('`+add+`').length >= 2`, 60*time.Second)
		dashShot(t, ctx, "anim-liveness")
	})

	t.Run("DeleteRunningPod", func(t *testing.T) {
		c.t = t
		node := c.jsonpath("pod/probed", "{.spec.nodeName}")
		c.mustKubectl("delete", "pod", "probed", "--grace-period=3", "--wait=true")
		want := []string{"0:client→apiserver:write", "2:apiserver→kubelet/" + node + ":watch",
			"3:kubelet/" + node + "→containerd/" + node + ":cri", "4:kubelet/" + node + "→apiserver:write"}
		drawn(t, want[3]+":Pod/probed")
		got := strings.Split(dashEval(t, ctx, `window.wkDiagram.state.played.filter(p => p.endsWith(':Pod/probed')).map(p => p.replace(/^you:/, '0:')).map(p => p.slice(0, p.lastIndexOf(':'))).join('\n')`), "\n")
		i := 0
		for _, g := range got {
			if i < len(want) && g == want[i] {
				i++
			}
		}
		if i != len(want) {
			t.Errorf("deleting a running pod drawn as\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := stepTitle(t, `#steps li[data-flow=delete][data-n="2"][data-name=probed]`); got != "kubelet sees probed is terminating: it stops the containers within 3s" {
			t.Errorf("kubelet step %q", got)
		}
		dashWaitJS(t, ctx, "token gone", `!document.querySelector('.dg-token[data-pod="default/probed"]')`, 10*time.Second)
		dashShot(t, ctx, "anim-deleted")
	})
}
