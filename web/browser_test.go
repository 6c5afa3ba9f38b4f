package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/web/browsertest"
)

const seedEchoPod = `# echo-pod.yml
apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`

// paste puts text into the editor as a paste would.
var paste = browsertest.SetEditor

// js runs a script for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](expr)(ctx, t)
		return chromedp.Void{}, err
	}
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)
}

// chromedp_Navigate loads a page and waits until its websocket delivered the snapshot.
func chromedp_Navigate(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(url)
}

// The seed's echo pod pasted into the editor: the five steps appear in order, naming the
// real pod and node, and the pod shows Running.
func TestBrowserEchoPodFiveSteps(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := browser(t)
	run(t, ctx, "open editor", 20*time.Second,
		chromedp.Navigate(e.url+"/editor"),
		chromedp.WaitVisible(css(`#yaml`)))
	waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
	run(t, ctx, "paste and apply", 10*time.Second, paste(seedEchoPod), chromedp.Click(css(`#apply`)))
	waitJS(t, ctx, "applied", `!!document.querySelector('[data-testid=result][data-ok=true]')`, 10*time.Second)
	if got := evalString(t, ctx, `document.querySelector('#results').textContent`); !strings.Contains(got, "Pod/echo created") {
		t.Errorf("result %q", got)
	}
	waitJS(t, ctx, "five steps", `document.querySelectorAll('#steps li[data-flow=pod][data-name=echo]').length >= 5`, 20*time.Second)
	shot(t, ctx, "editor")
	got := evalString(t, ctx, `Array.from(document.querySelectorAll('#steps li[data-flow=pod][data-name=echo]')).map(l => l.dataset.n + ':' + l.dataset.comp + ':' + l.dataset.node).join(' ')`)
	want := "1:scheduler: 2:scheduler:node-1 3:kubelet:node-1 4:containerd:node-1 5:kubelet:node-1"
	if got != want {
		t.Errorf("steps %q\nwant  %q", got, want)
	}
	// The diagram drew every step as an arrow between the right components, in order:
	// your write, then the notes' five.
	waitJS(t, ctx, "arrows drawn", `window.wkDiagram.state.played.filter(p => p.endsWith('Pod/echo')).length >= 6`, 30*time.Second)
	want = "you:client→apiserver:write 1:apiserver→scheduler:watch 2:scheduler→apiserver:write 3:apiserver→kubelet/node-1:watch 4:kubelet/node-1→containerd/node-1:cri 5:kubelet/node-1→apiserver:write"
	if got := evalString(t, ctx, `window.wkDiagram.state.played.filter(p => p.endsWith('Pod/echo')).map(p => p.split(':').slice(0, 3).join(':')).join(' ')`); got != want {
		t.Errorf("arrows %q\nwant   %q", got, want)
	}
	run(t, ctx, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(css(`#tbody-pods`)))
	waitJS(t, ctx, "pod Running", `(() => { const r = document.getElementById('row-pod-default-echo'); return !!r && r.dataset.status === 'Running' })()`, 20*time.Second)
	shot(t, ctx, "overview")
	// The step's change is one click away: the bind step's diff shows nodeName.
	run(t, ctx, "open step 2", 10*time.Second, chromedp.Click(css(`#steps li[data-flow=pod][data-name=echo][data-n="2"] summary`)))
	if d := evalString(t, ctx, `document.querySelector('#steps li[data-flow=pod][data-name=echo][data-n="2"] pre.diff').textContent`); !strings.Contains(d, "nodeName: node-1") {
		t.Errorf("bind step diff lacks nodeName: %q", d)
	}
	// The steps are one story, named by what you did; it replays on the diagram.
	if got := evalString(t, ctx, `Array.from(document.querySelectorAll('#steps .story .story-title')).map(e => e.textContent).join('|')`); got != "you created Pod/echo" {
		t.Errorf("stories %q", got)
	}
	n := evalString(t, ctx, `String(window.wkDiagram.state.drawn)`)
	run(t, ctx, "replay", 5*time.Second, click(`#steps .story [data-testid=replay]`))
	waitJS(t, ctx, "replayed", `window.wkDiagram.state.drawn >= `+n+` + 6`, 30*time.Second)
	if m := evalString(t, ctx, `document.querySelector('#diagram-msg').textContent`); !strings.Contains(m, "kubelet reports the pod status") {
		t.Errorf("diagram after the replay: %q", m)
	}
	run(t, ctx, "pod page", 20*time.Second, chromedp.Navigate(e.url+"/o/pod/default/echo"), chromedp.WaitVisible(css(`[data-testid=obj-live]`)))
	waitJS(t, ctx, "pod page live", `window.wk.ready`, 10*time.Second)
	shot(t, ctx, "pod-page")
}

// The seed's echo-pod.yml as printed (apiVerison) is refused at its line; nothing created.
func TestBrowserTypoShownAtLine(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := browser(t)
	run(t, ctx, "open editor", 20*time.Second, chromedp.Navigate(e.url+"/editor"), chromedp.WaitVisible(css(`#yaml`)))
	typo := strings.Replace(seedEchoPod, "apiVersion", "apiVerison", 1)
	run(t, ctx, "paste typo and apply", 10*time.Second, paste(typo), chromedp.Click(css(`#apply`)))
	waitJS(t, ctx, "error shown", `!!document.querySelector('[data-testid=error]')`, 10*time.Second)
	shot(t, ctx, "typo")
	line := evalString(t, ctx, `document.querySelector('[data-testid=error][data-field=apiVerison]').dataset.line`)
	if line != "2" {
		t.Errorf("apiVerison error at line %s, want 2", line)
	}
	msg := evalString(t, ctx, `document.querySelector('[data-testid=error][data-field=apiVerison]').textContent`)
	if !strings.Contains(msg, `did you mean "apiVersion"`) {
		t.Errorf("message %q lacks the suggestion", msg)
	}
	if g := evalString(t, ctx, `Array.from(document.querySelectorAll('[data-testid=gutter-err]')).map(e => e.dataset.line).join(',')`); !strings.Contains(g, "2") {
		t.Errorf("gutter marks lines %q, want 2", g)
	}
	pods, err := e.c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods after a refused apply: %d (err %v)", len(pods.Items), err)
	}
}
