package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/endpoints"
	"webkube/cluster/stepper"
)

func viewport(w, h int64, mobile bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile})
		return err
	})
}

// inView is true when the element's box lies inside the viewport.
func inView(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 1 && r.right <= innerWidth + 1 })()`, sel)
}

func scaleRS(t *testing.T, e *env, n int32) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Patch(context.Background(), "echo-rs", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// After more than 200 steps the diagram, its controls and step mode stay in view, at
// desktop and at phone size, wherever the page is scrolled.
func TestBrowserDiagramStaysInView(t *testing.T) {
	e := startEnv(t, "node-1", "node-2")
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(context.Background(), echoRS(0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		name   string
		w, h   int64
		mobile bool
	}{{"desktop", 1440, 900, false}, {"phone", 390, 844, true}} {
		t.Run(size.name, func(t *testing.T) {
			ctx := browser(t)
			run(t, ctx, "viewport", 10*time.Second, viewport(size.w, size.h, size.mobile))
			run(t, ctx, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
			waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
			if size.name == "desktop" {
				scaleRS(t, e, 36) // 36 pods: each created, scheduled, bound, run: over 200 steps
			} else {
				scaleRS(t, e, 0) // their deletions, then 20 new ones
				waitJS(t, ctx, "deletions", `window.wk.steps >= 140`, 90*time.Second)
				scaleRS(t, e, 20)
			}
			waitJS(t, ctx, "200 steps", `window.wk.steps >= 200`, 90*time.Second)
			for _, scroll := range []string{"0", "document.body.scrollHeight"} {
				run(t, ctx, "scroll", 5*time.Second, js(`window.scrollTo(0, `+scroll+`); true`))
				time.Sleep(200 * time.Millisecond) // a scroll settles in a frame
				for _, sel := range []string{"#diagram svg", "#step-next", "#stepmode", "#anim-speed", "#diagram-msg"} {
					if ok := evalString(t, ctx, `String(`+inView(sel)+`)`); ok != "true" {
						r := evalString(t, ctx, fmt.Sprintf(`JSON.stringify(document.querySelector(%q).getBoundingClientRect())`, sel))
						t.Errorf("%s at scroll %s: %s not in the %dx%d viewport: %s", size.name, scroll, sel, size.w, size.h, r)
					}
				}
				viewShot(t, ctx, "after-200-steps-scrolled-"+map[string]string{"0": "top"}[scroll]+"end")
			}
		})
	}
}

// Step mode on and three pods created at once: each Next releases exactly one held
// action, and before it the diagram names the next arrow, its number and why.
func TestBrowserNextReleasesOne(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := browser(t)
	run(t, ctx, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
	run(t, ctx, "step mode on", 10*time.Second, click(`#stepmode`))
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) { return e.c.Gate.StepMode(), "gate not in step mode" })
	for _, n := range []string{"a", "b", "c"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-" + n, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if _, err := e.c.Client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	actions := func() string {
		var out []string
		for _, s := range e.c.Gate.Waiting() {
			out = append(out, s.Action+" "+s.Name)
		}
		return strings.Join(out, ", ")
	}
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) { return len(e.c.Gate.Waiting()) > 0, actions() })
	waitJS(t, ctx, "held shown", `document.querySelectorAll('[data-testid=held-step]').length > 0`, 10*time.Second)
	first := e.c.Gate.Waiting()[0].Name
	msg := evalString(t, ctx, `document.querySelector('#diagram-msg').textContent`)
	if want := "Next ①: The scheduler will take pod " + first + " from its watch: it has no node yet."; msg != want {
		t.Errorf("before Next the diagram says %q, want %q", msg, want)
	}
	if n := evalString(t, ctx, `String(document.querySelectorAll('.dg-ghost [data-testid=arrow][data-from=apiserver][data-to=scheduler]').length)`); n != "1" {
		t.Errorf("%s ghost arrows API server → scheduler, want 1", n)
	}
	viewShot(t, ctx, "first-held")
	// The scheduler takes one pod at a time; once the first is bound, its kubelet and
	// the scheduler (the next pod) hold at the same time. From then on, every Next must
	// release exactly the oldest held action and leave the others held.
	id := func(s stepper.Step) string { return s.Component + " " + s.Action + " " + s.Name }
	checked := 0
	for i := 0; i < 30 && checked < 4; i++ {
		before := e.c.Gate.Waiting()
		run(t, ctx, "next", 5*time.Second, click(`#step-next`))
		var after []stepper.Step
		clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
			after = e.c.Gate.Waiting()
			return len(after) > 0 && (len(after) != len(before) || id(after[0]) != id(before[0])), actions()
		})
		time.Sleep(300 * time.Millisecond) // anything wrongly released would move meanwhile
		after = e.c.Gate.Waiting()
		if len(before) < 2 {
			continue
		}
		checked++
		left := map[string]bool{}
		for _, s := range after {
			left[id(s)] = true
		}
		if left[id(before[0])] {
			t.Errorf("Next did not release the oldest, %q; held now: %s", id(before[0]), actions())
		}
		for _, s := range before[1:] {
			if !left[id(s)] {
				t.Errorf("Next released %q as well as %q", id(s), id(before[0]))
			}
		}
	}
	if checked < 2 {
		t.Fatalf("only %d Next clicks had two or more actions held", checked)
	}
	viewShot(t, ctx, "after-nexts")
	// Step mode is visibly on, and still on after a reload.
	run(t, ctx, "reload", 20*time.Second, chromedp.Navigate(e.url+"/editor"))
	waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
	waitJS(t, ctx, "step mode shown", `document.querySelector('#stepmode').checked && document.body.classList.contains('stepping') && getComputedStyle(document.querySelector('[data-testid=stepbanner]')).display !== 'none'`, 5*time.Second)
	e.c.Gate.SetStepMode(false)
}

// viewShot saves what the viewport shows (a full-page shot would unpin the diagram).
func viewShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(c, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join("testdata", "artifacts")
	_ = os.MkdirAll(dir, 0o755)
	fn := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(fn, buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot %s", fn)
}

// storyOf names the story a step belongs to, by its title.
const storyOf = `(li) => li.closest('.story').querySelector('.story-title').textContent`

// The notes' ReplicaSet lesson, as the learner does it with kubectl label: removing app
// makes a replacement; putting it back makes the ReplicaSet delete one named pod (has 2,
// wants 1); deleting the ReplicaSet makes the garbage collector delete its pods.
func TestBrowserLabelBackAndGarbageCollector(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first string
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods, _ := e.c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				first = p.Name
				return true, ""
			}
		}
		return false, "no running pod"
	})
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	label := func(patch string) {
		t.Helper()
		if _, err := e.c.Client.CoreV1().Pods("default").Patch(ctx, first, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	label(`{"metadata":{"labels":{"app":null}}}`)
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		n, r := countPods(t, e, "app=echo,tier=app")
		return n == 1 && r == 1, fmt.Sprintf("%d matching, %d running", n, r)
	})
	waitJS(t, b, "replacement created", `Array.from(document.querySelectorAll('#steps li[data-flow=replicaset][data-n="2"]')).some(l => /creates pod/.test(l.textContent) && (`+storyOf+`)(l) === 'you removed app from `+first+`')`, 20*time.Second)
	label(`{"metadata":{"labels":{"app":"echo"}}}`)
	sel := `Array.from(document.querySelectorAll('#steps li[data-flow=replicaset][data-n="2"]')).find(l => / deletes \S+: has 2, wants 1/.test(l.querySelector('.st-title').textContent))`
	waitJS(t, b, "ReplicaSet deletes one", `!!`+sel, 20*time.Second)
	title := evalString(t, b, sel+`.querySelector('.st-title').textContent`)
	victim := strings.TrimSuffix(strings.Fields(strings.SplitN(title, " deletes ", 2)[1])[0], ":")
	if s := evalString(t, b, `(`+storyOf+`)(`+sel+`)`); s != "you set app=echo on "+first {
		t.Errorf("the deletion is in story %q", s)
	}
	if c := evalString(t, b, sel+`.dataset.comp + ' ' + `+sel+`.dataset.from + '→' + `+sel+`.dataset.to`); c != "controller-manager replicaset-controller→apiserver" {
		t.Errorf("deletion step drawn as %q", c)
	}
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		_, err := e.c.Client.CoreV1().Pods("default").Get(ctx, victim, metav1.GetOptions{})
		return err != nil, "the pod the step named, " + victim + ", is still there"
	})
	waitJS(t, b, "victim's deletion flow", `['2','3','4'].every(n => !!document.querySelector('#steps li[data-flow=delete][data-name=`+victim+`][data-n="'+n+'"]'))`, 20*time.Second)
	viewShot(t, b, "label-back")
	if err := e.c.Client.AppsV1().ReplicaSets("default").Delete(ctx, "echo-rs", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "garbage collector deletes", `Array.from(document.querySelectorAll('#steps li[data-flow=gc][data-n="2"]')).some(l => l.dataset.name === '`+first+`' && (`+storyOf+`)(l) === 'you deleted ReplicaSet/echo-rs')`, 20*time.Second)
	got := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story')).filter(s => s.querySelector('.story-title').textContent === 'you deleted ReplicaSet/echo-rs').flatMap(s => Array.from(s.querySelectorAll('li'))).map(l => l.dataset.from + '→' + l.dataset.to + ' ' + l.querySelector('.st-title').textContent).join('\n')`)
	for _, want := range []string{"client→apiserver you deleted ReplicaSet/echo-rs", "apiserver→garbage-collector garbage collector sees ReplicaSet/echo-rs gone",
		"garbage-collector→apiserver garbage collector deletes " + first + ": its owner ReplicaSet/echo-rs is gone"} {
		if !strings.Contains(got, want) {
			t.Errorf("the ReplicaSet's deletion story lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ReplicaSet/echo-rs deletes") {
		t.Errorf("garbage collection attributed to the ReplicaSet controller:\n%s", got)
	}
	viewShot(t, b, "gc")
}

// The bind step opens the scheduler's decision: a cordoned node filtered out with its
// reason, the chosen node's scores; in step mode the sentence says why before it happens.
// With every node cordoned, FailedScheduling is a red step with the scheduler's message.
func TestBrowserSchedulerReasons(t *testing.T) {
	e := startEnv(t, "node-1", "node-2")
	ctx := context.Background()
	cordon := func(node string) {
		t.Helper()
		if _, err := e.c.Client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cordon("node-2")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // the scheduler's node cache sees the cordon
	run(t, b, "step mode on", 10*time.Second, click(`#stepmode`))
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) { return e.c.Gate.StepMode(), "gate not in step mode" })
	defer e.c.Gate.SetStepMode(false)
	mk := func(name string) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("echo")
	waitJS(t, b, "held see", `/^Next ①: The scheduler will take pod echo/.test(document.querySelector('#diagram-msg').textContent)`, 10*time.Second)
	run(t, b, "next", 5*time.Second, click(`#step-next`))
	waitJS(t, b, "held bind", `document.querySelector('#diagram-msg').textContent === 'Next ②: The scheduler will bind echo to node-1: it is the only node that passes every filter.'`, 10*time.Second)
	viewShot(t, b, "bind-held")
	e.c.Gate.SetStepMode(false)
	sel := `#steps li[data-flow=pod][data-n="2"][data-name=echo]`
	waitJS(t, b, "bind step", `!!document.querySelector('`+sel+`')`, 10*time.Second)
	run(t, b, "open bind step", 5*time.Second, click(sel+` summary`))
	rows := evalString(t, b, `Array.from(document.querySelectorAll('`+sel+` [data-testid=decision-node]')).map(r => r.dataset.node + ':' + r.dataset.feasible + ':' + Array.from(r.cells).map(c => c.innerText.replace(/\s+/g, ' ').trim()).join(' | ')).join('\n')`)
	if !strings.Contains(rows, "node-1:true:node-1 ✓ chosen | passes every filter | ") || !strings.Contains(rows, "node-2:false:node-2 | node(s) were unschedulable | not scored") {
		t.Errorf("decision rows:\n%s", rows)
	}
	viewShot(t, b, "decision")
	cordon("node-1")
	time.Sleep(500 * time.Millisecond)
	mk("stuck")
	fail := `#steps li.fail[data-reason=FailedScheduling][data-name=stuck]`
	waitJS(t, b, "FailedScheduling", `!!document.querySelector('`+fail+`')`, 20*time.Second)
	if got := evalString(t, b, `document.querySelector('`+fail+` .st-title').textContent`); !strings.Contains(got, "scheduler cannot place stuck: 0/2 nodes are available") {
		t.Errorf("failure step %q", got)
	}
	waitJS(t, b, "red arrow", `window.wkDiagram.state.played.some(p => p === '2:scheduler→apiserver:fail:Pod/stuck')`, 20*time.Second)
	viewShot(t, b, "failed-scheduling")
}

// An object's page shows only its own stories.
func TestBrowserObjectPageShowsItsStories(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	for _, n := range []string{"one", "two"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitJS(t, b, "both stories", `document.querySelectorAll('#steps .story:not([hidden])').length === 2`, 20*time.Second)
	run(t, b, "pod page", 20*time.Second, chromedp.Navigate(e.url+"/o/pod/default/one"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	got := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story:not([hidden]) .story-title')).map(e => e.textContent).join('|')`)
	if got != "you created Pod/one" {
		t.Errorf("pod one's page shows stories %q", got)
	}
}

// A rollout: the deployment controller creates the new ReplicaSet and scales the old one
// down, each with its own ReplicaSet flow, all in the story of your template change.
func TestBrowserRolloutStory(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	l := map[string]string{"app": "web"}
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/subicura/echo:v1"}}}}}}
	if _, err := e.c.Client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, r := countPods(t, e, "app=web")
		return r == 1, "web not running"
	})
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"ghcr.io/subicura/echo:v2"}]}}}}`
	if _, err := e.c.Client.AppsV1().Deployments("default").Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	story := `Array.from(document.querySelectorAll('#steps .story')).filter(s => s.querySelector('.story-title').textContent === 'rollout of deploy/web: you changed its template').flatMap(s => Array.from(s.querySelectorAll('li'))).map(l => l.dataset.flow + ' ' + l.querySelector('.st-title').textContent).join('\n')`
	waitJS(t, b, "old pod deleted", `/deletes web-\S+: has 1, wants 0/.test(`+story+`)`, 30*time.Second)
	got := evalString(t, b, story)
	for _, want := range []string{"deployment deployment controller sees Deployment/web at generation 2",
		"deployment Deployment/web creates ReplicaSet/web-", "replicaset ReplicaSet/web-", "pod scheduler sees the unassigned pod",
		"deployment Deployment/web scales web-"} {
		if !strings.Contains(got, want) {
			t.Errorf("rollout story lacks %q:\n%s", want, got)
		}
	}
	viewShot(t, b, "rollout")
}

// playedFor lists, in the order the diagram drew them, the arrows of one object:
// "n:from→to:style" (style is "fail" for a red one).
func playedFor(t *testing.T, ctx context.Context, kind, name string) []string {
	t.Helper()
	s := evalString(t, ctx, fmt.Sprintf(`window.wkDiagram.state.played.filter(p => p.endsWith(':%s/%s')).map(p => p.slice(0, p.lastIndexOf(':'))).join('\n')`, kind, name))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// inOrder reports whether want occurs in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Scaling a ReplicaSet down: the ReplicaSet controller deletes named pods ("has N, wants
// M"), and each deletion is drawn as the notes teach it: the deletion timestamp written,
// the kubelet seeing it and having containerd stop the containers, the API server removing
// the pod; its token leaves the diagram. Deleting a pod by hand is the learner's story,
// with the ReplicaSet making a replacement in it. The endpoints controller adds each
// ready pod to the Service and removes the deleted ones.
func TestBrowserScaleDownAndPodDeletion(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	// The binary runs the endpoints controller beside the controller manager; so does this test.
	eps, err := endpoints.NewController(endpoints.Config{Client: e.c.Client, Gate: e.c.Gate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	epCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	if err := eps.Start(epCtx); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := e.c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	run(t, b, "fast", 5*time.Second, js(`window.wkDiagram.setSpeed('fast'); true`))
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, r := countPods(t, e, "app=echo,tier=app")
		return r == 3, fmt.Sprintf("%d running", r)
	})
	// Each running pod joins the Service through the endpoints controller.
	added := `Array.from(document.querySelectorAll('#steps li[data-flow=endpoints][data-n="3"]')).filter(l => / adds \S+ to Service\/echo/.test(l.querySelector('.st-title').textContent)).length`
	waitJS(t, b, "endpoints add three", added+` === 3`, 30*time.Second)

	scaleRS(t, e, 1)
	dels := `Array.from(document.querySelectorAll('#steps li[data-flow=replicaset][data-n="2"]')).map(l => l.querySelector('.st-title').textContent).filter(s => / deletes /.test(s))`
	waitJS(t, b, "two deletions", dels+`.length === 2`, 30*time.Second)
	var victims []string
	for _, title := range strings.Split(evalString(t, b, dels+`.join('\n')`), "\n") {
		m := strings.Fields(title) // ReplicaSet/echo-rs deletes <pod>: has N, wants 1
		if len(m) != 7 || m[1] != "deletes" || m[5] != "wants" || m[6] != "1" {
			t.Fatalf("deletion step %q, want \"ReplicaSet/echo-rs deletes <pod>: has N, wants 1\"", title)
		}
		victims = append(victims, strings.TrimSuffix(m[2], ":"))
	}
	if s := evalString(t, b, `Array.from(document.querySelectorAll('#steps li[data-flow=replicaset][data-n="2"]')).filter(l => / deletes /.test(l.textContent)).map(l => (`+storyOf+`)(l)).join('|')`); s != "you scaled echo-rs 3→1|you scaled echo-rs 3→1" {
		t.Errorf("the deletions are in stories %q", s)
	}
	for _, v := range victims {
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			_, err := e.c.Client.CoreV1().Pods("default").Get(ctx, v, metav1.GetOptions{})
			return err != nil, v + " still in the API"
		})
		waitJS(t, b, "deletion drawn", fmt.Sprintf(`window.wkDiagram.state.played.includes('4:kubelet/node-1→apiserver:write:Pod/%s') && !document.querySelector('.dg-token[data-pod="default/%s"]')`, v, v), 20*time.Second)
		want := []string{"2:replicaset-controller→apiserver:write", "2:apiserver→kubelet/node-1:watch",
			"3:kubelet/node-1→containerd/node-1:cri", "4:kubelet/node-1→apiserver:write"}
		if got := playedFor(t, b, "Pod", v); !inOrder(got, want) {
			t.Errorf("%s's deletion drawn as\n%s\nwant in order\n%s", v, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		waitJS(t, b, "endpoints remove", fmt.Sprintf(`Array.from(document.querySelectorAll('#steps li[data-flow=endpoints][data-n="3"]')).some(l => l.querySelector('.st-title').textContent === 'endpoints controller removes %s from Service/echo')`, v), 20*time.Second)
		// A pod scaled away leaves the Service as no failure: not red (only failed
		// readiness is), in the list and on the diagram.
		red := evalString(t, b, fmt.Sprintf(`Array.from(document.querySelectorAll('#steps li[data-flow=endpoints]')).filter(l => l.querySelector('.st-title').textContent.includes(' %s') && (l.classList.contains('fail') || l.dataset.fail === 'true')).map(l => l.querySelector('.st-title').textContent).join('|')`, v))
		if red != "" {
			t.Errorf("the endpoints controller removing scaled-away %s is drawn as a failure: %s", v, red)
		}
	}
	waitJS(t, b, "removals drawn", `window.wkDiagram.state.played.filter(p => p.startsWith('3:endpoints-controller→apiserver:')).length >= 5`, 20*time.Second)
	if got := evalString(t, b, `window.wkDiagram.state.played.filter(p => p.startsWith('3:endpoints-controller→apiserver:fail')).join('|')`); got != "" {
		t.Errorf("endpoints arrows drawn red: %s", got)
	}
	viewShot(t, b, "scaled-down")

	// By hand, with a grace period: the learner's own story.
	pods, err := e.c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods left: %v %v", pods, err)
	}
	last := pods.Items[0].Name
	grace := int64(5)
	if err = e.c.Client.CoreV1().Pods("default").Delete(ctx, last, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	story := `Array.from(document.querySelectorAll('#steps .story')).filter(s => s.querySelector('.story-title').textContent === 'you deleted Pod/` + last + `').flatMap(s => Array.from(s.querySelectorAll('li'))).map(l => l.dataset.flow + ' ' + l.dataset.n + ' ' + l.querySelector('.st-title').textContent)`
	waitJS(t, b, "replacement in the story", story+`.some(s => /^replicaset 2 ReplicaSet\/echo-rs creates pod /.test(s))`, 30*time.Second)
	// The replacement comes as soon as the deletion is asked for; the kubelet stops the
	// containers and confirms after it (the test once compared before it had).
	waitJS(t, b, "removal in the story", story+`.some(s => /^delete 4 /.test(s))`, 30*time.Second)
	got := strings.Split(evalString(t, b, story+`.join('\n')`), "\n")
	want := []string{"you 0 you deleted Pod/" + last,
		"delete 2 kubelet sees " + last + " is terminating: it stops the containers within 5s",
		"delete 3 kubelet has containerd stop the containers of " + last,
		"delete 4 kubelet confirms; the API server removes " + last}
	if !inOrder(got, want) {
		t.Errorf("story of deleting %s:\n%s\nwant in order:\n%s", last, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	viewShot(t, b, "deleted-by-hand")
}

// The diagram speaks the page's language: its legend (watch, write, CRI, failure), its own
// labels, the story controls and, in step mode, the sentence of what happens next; the
// components keep their Kubernetes names.
func TestBrowserAnimatorKorean(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "Korean", 20*time.Second, chromedp.Navigate(e.url+"/lang/ko?back=/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready && document.documentElement.lang === 'ko'`, 10*time.Second)
	legend := evalString(t, b, `Array.from(document.querySelectorAll('[data-testid=legend] li')).map(l => l.dataset.style + ' ' + l.textContent).join('\n')`)
	if want := "watch watch: API 서버가 컴포넌트에 변경을 알림\nwrite write: 컴포넌트가 API 서버에 기록\ncri CRI: kubelet이 containerd에 요청\nfail 빨간색: 실패 (이유와 함께)"; legend != want {
		t.Errorf("legend:\n%s\nwant\n%s", legend, want)
	}
	labels := evalString(t, b, `Array.from(document.querySelectorAll('#diagram svg text')).map(t => t.textContent).join('|')`)
	for _, want := range []string{"나: kubectl / UI", "컨트롤러 매니저", "노드가 없는 파드", "scheduler", "API server", "kubelet", "containerd"} {
		if !strings.Contains(labels, want) {
			t.Errorf("diagram labels lack %q: %s", want, labels)
		}
	}
	run(t, b, "step mode on", 10*time.Second, click(`#stepmode`))
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) { return e.c.Gate.StepMode(), "gate not in step mode" })
	defer e.c.Gate.SetStepMode(false)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "다음 ①: 스케줄러가 watch로 파드 echo를 가져갑니다: 아직 노드가 없습니다."
	waitJS(t, b, "held sentence", fmt.Sprintf(`document.querySelector('#diagram-msg').textContent === %q`, want), 10*time.Second)
	waitJS(t, b, "story controls", `(() => { const s = document.querySelector('#steps .story'); return !!s && s.querySelector('.replay').textContent === '다시 보기' && /^\d+단계$/.test(s.querySelector('.story-count').textContent) })()`, 10*time.Second)
	// The step titles and the story's title are Korean too, as they arrive over the
	// websocket and as the page renders them when it opens.
	stepTitle := `(() => { const s = document.querySelector('#steps .story'); return !!s && s.querySelector('.story-title').textContent === '내가 Pod/echo을(를) 만들었습니다' && Array.from(s.querySelectorAll('.st-title')).some(t => t.textContent === '내가 Pod/echo을(를) 만들었습니다') })()`
	waitJS(t, b, "Korean step title", stepTitle, 10*time.Second)
	viewShot(t, b, "korean")
	run(t, b, "reload", 20*time.Second, chromedp.Reload())
	waitJS(t, b, "live again", `window.wk && window.wk.ready && document.documentElement.lang === 'ko'`, 10*time.Second)
	waitJS(t, b, "Korean step title after reload", stepTitle, 10*time.Second)
	koreanReasons(t, b, e)
}

// koreanReasons: the sentences that say why are Korean too: the held bind with the
// scheduler's reason, the scheduler's reason in the bind step's decision and the
// evidence line, live and after a reload, with no English sentence in them. It goes on
// from TestBrowserAnimatorKorean, the scheduler holding pod echo at ①.
func koreanReasons(t *testing.T, b context.Context, e *env) {
	// Three English words in a row are a sentence; names and field paths are not.
	const noEnglish = `(s => !/\b[A-Za-z]+ [a-z]+ [a-z]+\b/.test(s))`
	held := "다음 ②: 스케줄러가 echo를 node-1에 바인딩합니다: 노드가 이것 하나뿐입니다."
	heldJS := fmt.Sprintf(`(() => { const m = document.querySelector('#diagram-msg'); const h = document.querySelector('[data-testid=held-say]'); return !!m && !!h && m.textContent === %q && %s(h.textContent) })()`, held, noEnglish)
	run(t, b, "next", 5*time.Second, click(`#step-next`))
	waitJS(t, b, "Korean held bind with the scheduler's reason", heldJS, 10*time.Second)
	run(t, b, "reload", 20*time.Second, chromedp.Reload())
	waitJS(t, b, "live again", `window.wk && window.wk.ready`, 10*time.Second)
	waitJS(t, b, "Korean held bind after reload", heldJS, 10*time.Second)
	e.c.Gate.SetStepMode(false)
	bound := fmt.Sprintf(`(() => {
		const li = Array.from(document.querySelectorAll('#steps li.step')).find(l => l.dataset.flow === 'pod' && l.dataset.n === '2');
		if (!li) return false;
		const ev = li.querySelector('[data-testid=evidence]'), why = li.querySelector('[data-testid=decision-why]');
		return !!ev && !!why && ev.textContent.startsWith('MODIFIED Pod default/echo: spec.nodeName이 node-1(으)로 정해졌습니다') &&
			why.textContent === 'node-1이(가) 선택되었습니다: 노드가 이것 하나뿐입니다.' && %[1]s(ev.textContent) && %[1]s(why.textContent) })()`, noEnglish)
	waitJS(t, b, "Korean evidence and scheduler reason in the bind step", bound, 15*time.Second)
	run(t, b, "reload", 20*time.Second, chromedp.Reload())
	waitJS(t, b, "live again", `window.wk && window.wk.ready`, 10*time.Second)
	waitJS(t, b, "Korean evidence and scheduler reason after reload", bound, 15*time.Second)
}
