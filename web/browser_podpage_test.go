package web

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
)

// When the server redoes the overview's page of pods (new pods came onto it), the rows
// that did not change stay the same elements, and the page is the server's, in its order.
// Each redo replaced every row: the whole table restyled, laid out and repainted twice a
// second while pods came and went (the longest tasks of a scale to 100 pods).
func TestBrowserPodPageKeepsUnchangedRows(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, r := countPods(t, e, "app=echo")
		return r == 3, fmt.Sprintf("%d running", r)
	})
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "three rows", `window.wk && window.wk.ready && document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 3`, 20*time.Second)
	run(t, b, "mark the rows", 5*time.Second, js(`document.querySelectorAll('#tbody-pods tr').forEach(tr => tr.wkMark = tr.id); true`))
	scaleRS(t, e, 5)
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, r := countPods(t, e, "app=echo")
		return r == 5, fmt.Sprintf("%d running", r)
	})
	waitJS(t, b, "five rows", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 5`, 20*time.Second)
	if kept := evalString(t, b, `String(Array.from(document.querySelectorAll('#tbody-pods tr')).filter(tr => tr.wkMark === tr.id).length)`); kept != "3" {
		t.Errorf("%s of the 3 unchanged rows kept after the page was redone", kept)
	}
	pods, err := e.c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range pods.Items {
		want = append(want, p.Name)
	}
	sort.Strings(want)
	if got := evalString(t, b, `Array.from(document.querySelectorAll('#tbody-pods tr')).map(tr => tr.dataset.name).join(' ')`); got != strings.Join(want, " ") {
		t.Errorf("the page shows %q, the server has %q", got, strings.Join(want, " "))
	}
}

// A pod's page opened before the pod is on a node offers no "Kill container" (there is no
// container yet) and offers it once the pod is bound, without a reload. The button was
// drawn once with the page, so a page opened a moment too early kept it off (a CI flake
// in cmd/webkube's dashboard test, which opens the page right after kubectl apply).
func TestBrowserPodPageKillOnceBound(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: "default"},
		Spec: corev1.PodSpec{SchedulerName: "nobody", // no scheduler takes it: the test binds it
			Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	run(t, b, "pod page", 20*time.Second, chromedp.Navigate(e.url+"/o/pod/default/later"))
	waitJS(t, b, "live", `!!(window.wk && window.wk.ready)`, 10*time.Second)
	if s := evalString(t, b, `String(document.querySelector('[data-testid=kill]').disabled)`); s != "true" {
		t.Fatalf("Kill container on a pod with no node: disabled=%s, want true", s)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: "default"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := e.c.Client.CoreV1().Pods("default").Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "kill offered once bound", `document.querySelector('[data-testid=obj-live]').textContent.includes('node-1') && !document.querySelector('[data-testid=kill]').disabled`, 20*time.Second)
}
