package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/controllers/clustertest"
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

// jobStory lists a story's steps as "flow from→to title", by the story's title.
const jobStory = `(title) => Array.from(document.querySelectorAll('#steps .story')).filter(s => s.querySelector('.story-title').textContent === title).flatMap(s => Array.from(s.querySelectorAll('li.step'))).map(l => l.dataset.flow + ' ' + l.dataset.from + '→' + l.dataset.to + ' ' + l.querySelector('.st-title').textContent).join('\n')`

// runningJobPods waits until the Job's n pods run on their simulated node and returns them.
func runningJobPods(t *testing.T, e *env, job string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		l, err := e.c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=" + job})
		if err != nil {
			return false, err.Error()
		}
		pods = nil
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		return len(pods) == n, fmt.Sprintf("%d of %d pods of Job %s running", len(pods), n, job)
	})
	return pods
}

// finishPod makes a simulated pod end as its container would (simnode runs none).
func finishPod(t *testing.T, e *env, p corev1.Pod, phase corev1.PodPhase, exit int32) {
	t.Helper()
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: map[bool]string{true: "Completed", false: "Error"}[exit == 0]}}}}
	if _, err := e.c.Client.CoreV1().Pods("default").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// When the Job controller deletes its own pods (one failed past backoffLimit 0; a Job
// suspended), the dashboard draws its step, with its reason, in the Job's story: it was
// "you deleted Pod/…", a story of the learner's.
func TestBrowserJobControllerDeletesItsPods(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready && !!window.wkDiagram`, 10*time.Second)
	ctx := context.Background()
	two, zero := int32(2), int32(0)
	mk := func(name string, backoff *int32) {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: batchv1.JobSpec{Parallelism: &two, Completions: &two, BackoffLimit: backoff, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}
		if _, err := e.c.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("pi", &zero)
	pods := runningJobPods(t, e, "pi", 2)
	finishPod(t, e, pods[0], corev1.PodFailed, 1)
	other := pods[1].Name
	waitJS(t, b, "the Job controller deletes the other pod in the Job's story",
		`(`+jobStory+`)('you created Job/pi').includes('job job-controller→apiserver Job/pi deletes `+other+`: 1 pod(s) failed, more than its backoffLimit 0')`, 30*time.Second)
	waitJS(t, b, "the kubelet stops it in the same story",
		`(`+jobStory+`)('you created Job/pi').includes('delete kubelet/node-1→apiserver kubelet confirms; the API server removes `+other+`')`, 30*time.Second)

	mk("sleepy", nil)
	pods = runningJobPods(t, e, "sleepy", 2)
	if _, err := e.c.Client.BatchV1().Jobs("default").Patch(ctx, "sleepy", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		waitJS(t, b, "the Job controller deletes "+p.Name+" in the suspension's story",
			`(`+jobStory+`)('you suspended Job/sleepy').includes('job job-controller→apiserver Job/sleepy deletes `+p.Name+`: the Job is suspended')`, 30*time.Second)
	}
	if s := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story-title')).map(s => s.textContent).filter(s => s.startsWith('you deleted Pod/')).join(', ')`); s != "" {
		t.Errorf("the Job controller's deletions are said to be the learner's: %s", s)
	}
	waitJS(t, b, "the arrows drawn from the Job controller's box",
		`window.wkDiagram.state.played.filter(p => p.includes(':job-controller→apiserver:write:Pod/sleepy-')).length === 4`, 20*time.Second)
}

// A CronJob keeping one successful Job: when its second run ends, the CronJob controller
// deletes the first (its step, with its reason, in the story of the run that ended) and
// the garbage collector then deletes that Job's pod. There was no step for it. The CronJob
// controller runs on a clock the test moves; everything else keeps real time.
func TestBrowserCronJobPrunesOldJobs(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := startEnvWith(t, clustertest.Options{CronJobClock: clk}, "node-1")
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready && !!window.wkDiagram`, 10*time.Second)
	ctx := context.Background()
	one := int32(1)
	cj, err := e.c.Client.BatchV1().CronJobs("default").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", SuccessfulJobsHistoryLimit: &one, JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cj.CreationTimestamp.Truncate(5 * time.Minute).Add(5 * time.Minute)
	runAt := func(due time.Time) string {
		t.Helper()
		clk.SetTime(due.Add(time.Second))
		name := fmt.Sprintf("nightly-%d", due.Unix()/60)
		// The controller may have asked to be woken from a time it read before the clock
		// moved (then five minutes on): a change of the CronJob makes it look again.
		polls := 0
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			if _, err := e.c.Client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{}); err == nil {
				return true, ""
			}
			if polls++; polls%10 == 0 {
				patch := fmt.Sprintf(`{"metadata":{"annotations":{"test/look-again":"%d"}}}`, polls)
				if _, err := e.c.Client.BatchV1().CronJobs("default").Patch(ctx, "nightly", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					return false, err.Error()
				}
			}
			return false, "no Job " + name
		})
		pods := runningJobPods(t, e, name, 1)
		finishPod(t, e, pods[0], corev1.PodSucceeded, 0)
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			j, err := e.c.Client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return j.Status.CompletionTime != nil, "Job " + name + " not complete"
		})
		return name
	}
	old := runAt(first)
	pods, err := e.c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + old})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the first run's pods: %v %v", pods, err)
	}
	oldPod := pods.Items[0].Name
	latest := runAt(first.Add(5 * time.Minute))
	title := "CronJob/nightly creates Job " + latest + ": its schedule is due"
	prune := "cronjob cronjob-controller→apiserver CronJob/nightly deletes Job " + old + ": keeps the newest 1 successful"
	gc := "gc garbage-collector→apiserver garbage collector deletes " + oldPod + ": its owner Job/" + old + " is gone"
	waitJS(t, b, "the CronJob controller deletes the old Job, then the garbage collector its pod, in the run's story",
		`(s => s.includes('`+prune+`') && s.indexOf('`+prune+`') < s.indexOf('`+gc+`'))((`+jobStory+`)('`+title+`'))`, 30*time.Second)
	if s := evalString(t, b, `Array.from(document.querySelectorAll('#steps .story-title')).map(s => s.textContent).filter(s => s.startsWith('you ')).join(', ')`); s != "" {
		t.Errorf("the controllers' steps are said to be the learner's: %s", s)
	}
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		_, err := e.c.Client.BatchV1().Jobs("default").Get(ctx, old, metav1.GetOptions{})
		return err != nil, "Job " + old + " is still there"
	})
	// The learner deletes the CronJob: a story of its own, in which the garbage collector
	// deletes the Job left.
	if err := e.c.Client.BatchV1().CronJobs("default").Delete(ctx, "nightly", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	gcJob := "gc garbage-collector→apiserver garbage collector deletes Job " + latest + ": its owner CronJob/nightly is gone"
	waitJS(t, b, "the learner's deletion of the CronJob, then the garbage collector's of its Job, in one story",
		`(s => s.includes('you client→apiserver you deleted CronJob/nightly') && s.includes('`+gcJob+`'))((`+jobStory+`)('you deleted CronJob/nightly'))`, 30*time.Second)
}
