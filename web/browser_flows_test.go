package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"webkube/cluster/controllers/clustertest"
)

func echoRS(replicas int32) *appsv1.ReplicaSet {
	l := map[string]string{"app": "echo", "tier": "app"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-rs", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "ghcr.io/subicura/echo:v1"}}},
			},
		},
	}
}

func countPods(t testing.TB, e *env, sel string) (total, running int) {
	t.Helper()
	pods, err := e.c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	return
}

// Click + on echo-rs twice (1 → 3): three pods appear and the reconcile steps animate.
func TestBrowserScaleReplicaSet(t *testing.T) {
	e := startEnv(t, "node-1", "node-2")
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(context.Background(), echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	run(t, ctx, "overview", 20*time.Second, chromedp_Navigate(e.url+"/"))
	waitJS(t, ctx, "one echo-rs pod running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 1`, 20*time.Second)
	for want := 2; want <= 3; want++ {
		run(t, ctx, "click +", 10*time.Second, click(`#row-replicaset-default-echo-rs [data-testid=scale-inc]`))
		waitJS(t, ctx, "desired updated", fmt.Sprintf(`document.querySelector('#row-replicaset-default-echo-rs [data-testid=scale-input]').value === '%d'`, want), 10*time.Second)
		time.Sleep(300 * time.Millisecond) // let the row re-render from the watch before the next click
	}
	waitJS(t, ctx, "three pods running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 3`, 30*time.Second)
	shot(t, ctx, "scaled")
	if total, running := countPods(t, e, "app=echo,tier=app"); total != 3 || running != 3 {
		t.Errorf("API has %d pods, %d running; want 3", total, running)
	}
	// The reconcile, from real events: RS 1 (desired ≠ current) for the scale, RS 2 for
	// each created pod, and the new pods' scheduling and running as RS 3, 4, 5.
	// Polled in Go, so a timeout says which count fell short and what the steps said.
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		got := evalString(t, ctx, `(() => {
			const s = Array.from(document.querySelectorAll('#steps li'));
			const rs = (n) => s.filter(l => (l.dataset.flow === 'replicaset' && l.dataset.n === String(n)) || l.dataset.rsn === String(n)).length;
			const ok = rs(1) >= 2 && rs(2) >= 3 && rs(3) >= 3 && rs(4) >= 3 && rs(5) >= 3;
			return (ok ? 'ok ' : '') + [1, 2, 3, 4, 5].map(rs).join(',') + '\n' +
				s.map(l => (l.dataset.flow || '') + (l.dataset.n || '') + '/' + (l.dataset.rsn || '') + ' ' + l.querySelector('.st-title, h4, strong')?.textContent).join('\n');
		})()`)
		return strings.HasPrefix(got, "ok "), "reconcile steps (RS 1..5 counts, then each step):\n" + got
	})
	got := evalString(t, ctx, `Array.from(document.querySelectorAll('#steps li[data-flow=replicaset][data-n="1"]')).map(l => l.querySelector('.st-body p').textContent).join(' | ')`)
	if !strings.Contains(got, "spec.replicas 3, status.replicas 2") && !strings.Contains(got, "spec.replicas 2, status.replicas 1") {
		t.Errorf("RS step 1 evidence %q", got)
	}
}

// Relabel a pod out of its ReplicaSet by clicking: the preview says a replacement will be
// created; after apply a new pod appears.
func TestBrowserRelabelOutOfReplicaSet(t *testing.T) {
	e := startEnv(t, "node-1")
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(context.Background(), echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var podName string
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods, _ := e.c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				podName = p.Name
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d pods, none running", len(pods.Items))
	})
	ctx := browser(t)
	run(t, ctx, "pod page", 20*time.Second, chromedp_Navigate(e.url+"/o/pod/default/"+podName))
	waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
	run(t, ctx, "remove app label", 10*time.Second, click(`#label-chips .chip[data-key=app] [data-testid=label-remove]`))
	waitJS(t, ctx, "preview", `!!document.querySelector('[data-testid=effect][data-kind=ReplicaSet][data-name=echo-rs][data-change=loses]')`, 10*time.Second)
	shot(t, ctx, "preview")
	says := evalString(t, ctx, `document.querySelector('[data-testid=effect][data-kind=ReplicaSet][data-name=echo-rs]').textContent`)
	if !strings.Contains(says, "creates 1 replacement pod") {
		t.Errorf("preview says %q", says)
	}
	run(t, ctx, "apply labels", 10*time.Second, click(`#label-apply`))
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		total, running := countPods(t, e, "app=echo,tier=app")
		all, _ := countPods(t, e, "")
		return total == 1 && running == 1 && all == 2, fmt.Sprintf("%d/%d matching running, %d in all", running, total, all)
	})
	p, err := e.c.Client.CoreV1().Pods("default").Get(context.Background(), podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Labels["app"]; ok || metav1.GetControllerOf(p) != nil {
		t.Errorf("relabelled pod still has app label or owner: %v %v", p.Labels, p.OwnerReferences)
	}
	waitJS(t, ctx, "released step", `!!document.querySelector('#steps li[data-flow=replicaset][data-n="1"][data-name=echo-rs]')`, 10*time.Second)
	shot(t, ctx, "after")
}

// Step mode: the animator stops at step 1 and the pod stays unscheduled until Next.
func TestBrowserStepMode(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := browser(t)
	run(t, ctx, "editor", 20*time.Second, chromedp_Navigate(e.url+"/editor"))
	waitJS(t, ctx, "live", `window.wk && window.wk.ready`, 10*time.Second)
	run(t, ctx, "step mode on", 10*time.Second, click(`#stepmode`))
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) { return e.c.Gate.StepMode(), "gate not in step mode" })
	waitJS(t, ctx, "next enabled", `!document.querySelector('#step-next').disabled`, 5*time.Second)
	run(t, ctx, "apply echo", 10*time.Second, paste(seedEchoPod), click(`#apply`))
	waitJS(t, ctx, "step 1", `!!document.querySelector('#steps li[data-flow=pod][data-name=echo][data-n="1"]')`, 10*time.Second)
	waitJS(t, ctx, "held shown", `!!document.querySelector('[data-testid=held-step][data-comp=scheduler]')`, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	p, err := e.c.Client.CoreV1().Pods("default").Get(context.Background(), "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" {
		t.Fatalf("pod bound to %q while step mode held the scheduler", p.Spec.NodeName)
	}
	if n := evalString(t, ctx, `String(document.querySelectorAll('#steps li[data-flow=pod][data-name=echo]').length)`); n != "1" {
		t.Errorf("%s steps shown while held, want 1", n)
	}
	shot(t, ctx, "held")
	// Next, one held step at a time, until the scheduler has bound the pod.
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("pod not bound after 10 Next clicks")
		}
		waitJS(t, ctx, "something held", `!!document.querySelector('[data-testid=held-step]')`, 10*time.Second)
		run(t, ctx, "next", 5*time.Second, click(`#step-next`))
		time.Sleep(300 * time.Millisecond)
		p, err = e.c.Client.CoreV1().Pods("default").Get(context.Background(), "echo", metav1.GetOptions{})
		if err == nil && p.Spec.NodeName != "" {
			break
		}
	}
	waitJS(t, ctx, "step 2", `!!document.querySelector('#steps li[data-flow=pod][data-name=echo][data-n="2"][data-node=node-1]')`, 10*time.Second)
	if p.Status.Phase == corev1.PodRunning {
		t.Errorf("pod already Running while the kubelet should be held")
	}
	run(t, ctx, "run", 5*time.Second, click(`#step-run`))
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) { return !e.c.Gate.StepMode(), "still in step mode" })
	waitJS(t, ctx, "step 5", `!!document.querySelector('#steps li[data-flow=pod][data-name=echo][data-n="5"]')`, 20*time.Second)
	shot(t, ctx, "ran")
}
