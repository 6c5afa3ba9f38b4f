package web

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
)

func darkMode(on bool) chromedp.Action[chromedp.Void] {
	v := "light"
	if on {
		v = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	})
}

// Break it: delete a pod (after confirming) and watch its ReplicaSet heal; cordon and
// uncordon a node. Plus the conventions: `?` help, `/` filter, dark mode, narrow window.
func TestBrowserBreakItAndConventions(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "two running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 2`, 20*time.Second)
	victim := evalString(t, b, `document.querySelector('#tbody-pods tr[data-status=Running]').dataset.name`)

	// Cancel first: nothing happens.
	run(t, b, "delete", 5*time.Second, click(fmt.Sprintf(`#row-pod-default-%s [data-testid=delete]`, victim)))
	waitJS(t, b, "confirm open", `document.querySelector('#confirm').open`, 5*time.Second)
	shot(t, b, "confirm")
	run(t, b, "cancel", 5*time.Second, click(`[data-testid=confirm-cancel]`))
	time.Sleep(300 * time.Millisecond)
	if _, err := e.c.Client.CoreV1().Pods("default").Get(ctx, victim, metav1.GetOptions{}); err != nil {
		t.Fatalf("cancelled delete removed the pod: %v", err)
	}
	run(t, b, "delete again", 5*time.Second, click(fmt.Sprintf(`#row-pod-default-%s [data-testid=delete]`, victim)),
		chromedp.WaitVisible(css(`[data-testid=confirm-ok]`)), click(`[data-testid=confirm-ok]`))
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := e.c.Client.CoreV1().Pods("default").Get(ctx, victim, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("pod %s still there (%v)", victim, err)
	})
	waitJS(t, b, "row gone", fmt.Sprintf(`!document.getElementById('row-pod-default-%s')`, victim), 10*time.Second)
	waitJS(t, b, "healed", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 2`, 20*time.Second)

	// Cordon, then uncordon.
	run(t, b, "cordon", 5*time.Second, click(`#row-node--node-1 [data-testid=cordon]`))
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		n, err := e.c.Client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		return err == nil && n.Spec.Unschedulable, "node not cordoned"
	})
	waitJS(t, b, "status shows it", `document.querySelector('#row-node--node-1 [data-testid=status]').textContent === 'Ready,SchedulingDisabled'`, 10*time.Second)
	run(t, b, "uncordon", 5*time.Second, click(`#row-node--node-1 [data-testid=uncordon]`))
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		n, err := e.c.Client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		return err == nil && !n.Spec.Unschedulable, "node still cordoned"
	})

	// Keyboard: ? opens help, Escape closes, / focuses the filter, which filters rows.
	run(t, b, "help", 5*time.Second, chromedp.KeyEvent("?"))
	waitJS(t, b, "help open", `document.querySelector('#help').open`, 5*time.Second)
	shot(t, b, "help")
	run(t, b, "close help", 5*time.Second, chromedp.KeyEvent("\x1b"))
	waitJS(t, b, "help closed", `!document.querySelector('#help').open`, 5*time.Second)
	run(t, b, "slash", 5*time.Second, chromedp.KeyEvent("/"))
	waitJS(t, b, "filter focused", `document.activeElement === document.querySelector('#filter')`, 5*time.Second)
	run(t, b, "type filter", 5*time.Second, chromedp.KeyEvent("node-1"))
	waitJS(t, b, "filtered", `document.querySelector('#row-node--node-1').hidden === false && Array.from(document.querySelectorAll('#tbody-services tr')).every(r => r.hidden)`, 5*time.Second)
	run(t, b, "clear filter", 5*time.Second, chromedp.KeyEvent("\x1b"))

	// Dark mode follows the OS; narrow windows stack the animator under the content.
	run(t, b, "dark", 5*time.Second, darkMode(true))
	waitJS(t, b, "dark bg", `getComputedStyle(document.body).backgroundColor === 'rgb(17, 20, 24)'`, 5*time.Second)
	shot(t, b, "dark")
	run(t, b, "narrow", 5*time.Second, chromedp.EmulateViewport(420, 800))
	waitJS(t, b, "stacked", `(() => { const m = document.querySelector('main').getBoundingClientRect(), a = document.querySelector('.anim-col').getBoundingClientRect(); return a.top >= m.bottom - 1 && document.documentElement.scrollWidth <= 430 })()`, 5*time.Second)
	shot(t, b, "narrow-dark")
	run(t, b, "light", 5*time.Second, darkMode(false), chromedp.EmulateViewport(1280, 800))
	run(t, b, "rs page", 10*time.Second, chromedp.Navigate(e.url+"/o/replicaset/default/echo-rs"))
	waitJS(t, b, "owned pods listed", `document.querySelectorAll('[data-testid=owned]').length === 2`, 10*time.Second)
	shot(t, b, "rs-page")
	run(t, b, "node page", 10*time.Second, chromedp.Navigate(e.url+"/o/node/_/node-1"))
	waitJS(t, b, "pods on the node", `window.wk.ready && document.querySelectorAll('[data-testid=owned]').length === 2 && document.querySelector('[data-testid=obj-status] [data-testid=status]').textContent === 'Ready'`, 10*time.Second)
	shot(t, b, "node-page")
	run(t, b, "service page", 10*time.Second, chromedp.Navigate(e.url+"/o/service/default/kubernetes"))
	waitJS(t, b, "service", `window.wk.ready && !!document.querySelector('[data-testid=endpoints]')`, 10*time.Second)
	run(t, b, "steps page", 10*time.Second, chromedp.Navigate(e.url+"/steps"))
	// Older stories come folded, as summaries with their step counts (their steps are
	// fetched when opened); the newest is open with its steps.
	waitJS(t, b, "steps", `Array.from(document.querySelectorAll('#steps details.story')).reduce((n, s) => n + Number(s.dataset.n || 0), 0) > 5 && document.querySelectorAll('#steps details.story[open] li').length > 0`, 10*time.Second)
	shot(t, b, "steps-page")
}

// A page of pods the learner asks for (here a filter) is in the table when its pager says
// so: the rows come before the pager, not paced behind it like the cluster's churn. The
// check runs in the very task that changes the pager. Paced, the pager said "matching
// keep" over the unfiltered rows (TestDashboardAttachedScale's next page and filter, in CI).
func TestBrowserAskedPodPageComesWithItsPager(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	for _, name := range []string{"keep-0", "keep-1", "other-0", "other-1", "other-2"} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "five pod rows", `window.wk && window.wk.ready && document.querySelectorAll('[data-testid=pod-row]').length === 5`, 20*time.Second)
	waitJS(t, b, "watch the pager", `(() => { window.atPager = null; new MutationObserver(() => {
		const p = document.querySelector('[data-testid=pod-pager]');
		if (window.atPager === null && p && p.textContent.includes('matching “keep”'))
			window.atPager = Array.from(document.querySelectorAll('[data-testid=pod-row]')).map(r => r.dataset.name).join(',');
	}).observe(document.body, {subtree: true, childList: true, characterData: true}); return true })()`, 5*time.Second)
	run(t, b, "filter", 5*time.Second, chromedp.SendKeys(css(`#filter`), "keep"))
	waitJS(t, b, "the filtered pager", `window.atPager !== null`, 10*time.Second)
	if got := evalString(t, b, `window.atPager`); got != "keep-0,keep-1" {
		t.Errorf("rows when the pager said the filtered page: %s, want keep-0,keep-1", got)
	}
}
