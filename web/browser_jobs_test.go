package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A Job's pods are the Job controller's writes, in the story of the learner's Job (they
// were each "you created Pod …", a story of their own), and the ingress controller's box
// stands apart from the controller manager (it was drawn inside it).
func TestBrowserJobStoryAndIngressBox(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready && !!window.wkDiagram`, 10*time.Second)
	apart := evalString(t, b, `(() => { const g = document.querySelector('#diagram .dg-group').getBBox();
		const r = document.querySelector('#diagram [data-box="ingress-controller"]').getBBox();
		const inside = r.x < g.x + g.width && r.x + r.width > g.x && r.y < g.y + g.height && r.y + r.height > g.y;
		return inside ? 'inside ' + JSON.stringify([g.x, g.y, g.width, g.height]) + ' at ' + JSON.stringify([r.x, r.y]) : 'apart' })()`)
	if apart != "apart" {
		t.Errorf("the ingress controller's box is drawn %s (the controller manager's group)", apart)
	}
	two := int32(2)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec: batchv1.JobSpec{Parallelism: &two, Completions: &two, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}
	if _, err := e.c.Client.BatchV1().Jobs("default").Create(context.Background(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const story = `(title) => Array.from(document.querySelectorAll('#steps .story')).filter(s => s.querySelector('.story-title').textContent === title).flatMap(s => Array.from(s.querySelectorAll('li.step')))`
	waitJS(t, b, "the Job controller creates two pods in the Job's story",
		`(`+story+`)('you created Job/pi').filter(l => l.dataset.from === 'job-controller' && l.dataset.kind === 'Pod').length === 2`, 20*time.Second)
	got := evalString(t, b, `(`+story+`)('you created Job/pi').map(l => l.dataset.flow + ' ' + l.dataset.from + '→' + l.dataset.to + ' ' + l.querySelector('.st-title').textContent).join('\n')`)
	for _, want := range []string{"you client→apiserver you created Job/pi", "job apiserver→job-controller Job controller sees Job/pi",
		"job job-controller→apiserver Job/pi creates pod pi-"} {
		if !strings.Contains(got, want) {
			t.Errorf("the Job's story lacks %q:\n%s", want, got)
		}
	}
	if s := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story-title')).map(s => s.textContent).filter(s => s.startsWith('you created Pod/')).join(', ')`); s != "" {
		t.Errorf("the Job's pods are said to be the learner's: %s", s)
	}
	waitJS(t, b, "the arrows drawn from the Job controller's box",
		`window.wkDiagram.state.played.filter(p => p.includes(':job-controller→apiserver:write:Pod/pi-')).length === 2`, 20*time.Second)

	// Deleting the Job as kubectl does (in the background): the garbage collector deletes
	// its pods, in the story of the learner's deletion; they were "you deleted Pod/…".
	bg := metav1.DeletePropagationBackground
	if err := e.c.Client.BatchV1().Jobs("default").Delete(context.Background(), "pi", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "the garbage collector deletes the Job's two pods in the deletion's story",
		`(`+story+`)('you deleted Job/pi').filter(l => l.dataset.from === 'garbage-collector' && l.dataset.kind === 'Pod').length === 2`, 30*time.Second)
	got = evalString(t, b, `(`+story+`)('you deleted Job/pi').map(l => l.dataset.from + '→' + l.dataset.to + ' ' + l.querySelector('.st-title').textContent).join('\n')`)
	for _, want := range []string{"client→apiserver you deleted Job/pi", "apiserver→garbage-collector garbage collector sees Job/pi gone: its 2 pods have no owner",
		"garbage-collector→apiserver garbage collector deletes pi-"} {
		if !strings.Contains(got, want) {
			t.Errorf("the Job's deletion story lacks %q:\n%s", want, got)
		}
	}
	if s := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story-title')).map(s => s.textContent).filter(s => s.startsWith('you deleted Pod/')).join(', ')`); s != "" {
		t.Errorf("the garbage collector's deletions are said to be the learner's: %s", s)
	}
}
