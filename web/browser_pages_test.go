package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
)

// ageSeconds reads an age like "7s" (kubectl's format below two minutes) from the page.
func ageSeconds(t *testing.T, b context.Context, sel string) int {
	t.Helper()
	s := evalString(t, b, `(document.querySelector(`+strconv.Quote(sel)+`) || {}).textContent || ''`)
	n, err := strconv.Atoi(strings.TrimSuffix(s, "s"))
	if err != nil || !strings.HasSuffix(s, "s") {
		t.Fatalf("age %q at %s", s, sel)
	}
	return n
}

// Ages tick in the page: a pod that has not changed since it started reads its true age,
// not the age it had when its row was last rendered (pods rolled out 25 s earlier read "1s").
func TestBrowserAgesTick(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "pod running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 1`, 20*time.Second)
	pod := evalString(t, b, `document.querySelector('#tbody-pods tr[data-status=Running]').dataset.name`)
	p, err := e.c.Client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	row := "#row-pod-default-" + pod + " [data-testid=age]"
	waitJS(t, b, "age ticks to 5s", `/^([5-9]|[1-9][0-9])s$/.test(document.querySelector(`+strconv.Quote(row)+`).textContent)`, 15*time.Second)
	check := func(sel string) {
		t.Helper()
		want := int(time.Since(p.CreationTimestamp.Time).Seconds())
		if got := ageSeconds(t, b, sel); got < want-2 || got > want+2 {
			t.Errorf("%s reads %ds, the pod is %ds old", sel, got, want)
		}
	}
	check(row)
	run(t, b, "pod page", 10*time.Second, chromedp.Navigate(e.url+"/o/pod/default/"+pod))
	waitJS(t, b, "live", `window.wk.ready`, 10*time.Second)
	time.Sleep(2 * time.Second) // nothing changes the pod: only the page's clock moves its age
	check(`[data-testid=obj-status] [data-testid=age]`)
}

// Delete says who reacts (the ReplicaSet controller for its pod, the garbage collector for a
// ReplicaSet's pods), ReplicaSet rows can be deleted, and a deleted object's open page says
// it is gone and offers no action.
func TestBrowserDeleteSaysWhoReacts(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "pods running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 2`, 20*time.Second)
	pod := evalString(t, b, `document.querySelector('#tbody-pods tr[data-status=Running]').dataset.name`)

	run(t, b, "delete pod", 5*time.Second, click(fmt.Sprintf(`#row-pod-default-%s [data-testid=delete]`, pod)))
	waitJS(t, b, "confirm open", `document.querySelector('#confirm').open`, 5*time.Second)
	if s := evalString(t, b, `document.querySelector('#confirm-text').textContent`); !strings.Contains(s, "ReplicaSet controller") || !strings.Contains(s, "echo-rs") || strings.Contains(s, "garbage collector") {
		t.Errorf("deleting a ReplicaSet's pod says %q, want the ReplicaSet controller replacing it", s)
	}
	run(t, b, "cancel", 5*time.Second, click(`[data-testid=confirm-cancel]`))

	// The pod's page stays open in a second tab while its ReplicaSet is deleted.
	tab, cancel := chromedp.NewContext(b)
	defer cancel()
	if err := chromedp.Do(tab); err != nil { // opens the tab; a timeout here would close it
		t.Fatal(err)
	}
	run(t, tab, "pod page", 20*time.Second, chromedp.Navigate(e.url+"/o/pod/default/"+pod))
	waitJS(t, tab, "live", `window.wk.ready && !document.querySelector('[data-testid=delete]').disabled`, 10*time.Second)

	rsDelete := `#row-replicaset-default-echo-rs [data-testid=delete]`
	run(t, b, "delete replicaset", 5*time.Second, click(rsDelete))
	waitJS(t, b, "confirm open", `document.querySelector('#confirm').open`, 5*time.Second)
	if s := evalString(t, b, `document.querySelector('#confirm-text').textContent`); !strings.Contains(s, "garbage collector") || strings.Contains(s, "ReplicaSet controller") {
		t.Errorf("deleting a ReplicaSet says %q, want the garbage collector deleting its pods", s)
	}
	shot(t, b, "confirm-rs-delete")
	run(t, b, "confirm", 5*time.Second, click(`[data-testid=confirm-ok]`))
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		_, err := e.c.Client.AppsV1().ReplicaSets("default").Get(ctx, "echo-rs", metav1.GetOptions{})
		total, _ := countPods(t, e, "app=echo")
		return apierrors.IsNotFound(err) && total == 0, fmt.Sprintf("replicaset: %v, %d pods left", err, total)
	})
	waitJS(t, b, "rows gone", `!document.querySelector('#row-replicaset-default-echo-rs') && document.querySelectorAll('#tbody-pods tr').length === 0`, 10*time.Second)

	waitJS(t, tab, "page says gone", `!!document.querySelector('[data-testid=gone]')`, 10*time.Second)
	if s := evalString(t, tab, `Array.from(document.querySelectorAll('#object [data-act], #exec-start, #label-apply')).filter(b => !b.disabled).map(b => b.dataset.testid || b.id).join(',')`); s != "" {
		t.Errorf("a deleted pod's page still offers %s", s)
	}
	shot(t, tab, "pod-gone")
	// Created again under the same name, the open page follows the new pod and offers its
	// actions again (they stayed disabled until a reload).
	again := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "page follows the new pod", `!document.querySelector('[data-testid=gone]') && !!document.querySelector('[data-testid=obj-live]')`, 10*time.Second)
	waitJS(t, tab, "actions offered again", `!document.querySelector('#object').dataset.gone && !document.querySelector('#object [data-testid=delete]').disabled`, 10*time.Second)
	zero := int64(0)
	if err := e.c.Client.CoreV1().Pods("default").Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, "page says gone again", `!!document.querySelector('[data-testid=gone]') && document.querySelector('#object [data-testid=delete]').disabled`, 10*time.Second)
	// Opened after the deletion (a stale link): the same.
	run(t, tab, "reload", 10*time.Second, chromedp.Navigate(e.url+"/o/pod/default/"+pod))
	if s := evalString(t, tab, `document.body.textContent`); !strings.Contains(s, "not found") && !strings.Contains(s, "Not Found") {
		t.Errorf("a deleted pod's page reads %q", s[:min(len(s), 200)])
	}
}
