package web

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
