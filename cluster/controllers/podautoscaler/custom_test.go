package podautoscaler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/podautoscaler"
	"webkube/internal/eventually"
)

// fakeCustom is a custom and external metrics API a test sets (milli-units).
type fakeCustom struct {
	pods     map[string]int64
	object   int64
	external []int64
}

func (f fakeCustom) PodsMetric(context.Context, string, string, labels.Selector, labels.Selector) (map[string]int64, error) {
	return f.pods, nil
}

func (f fakeCustom) ObjectMetric(context.Context, string, string, autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, error) {
	return f.object, nil
}

func (f fakeCustom) ExternalMetric(context.Context, string, string, labels.Selector) ([]int64, error) {
	return f.external, nil
}

// hpaFixture is a real API server with an HPA controller whose Sync the test calls.
type hpaFixture struct {
	t   *testing.T
	ctx context.Context
	cs  kubernetes.Interface
	c   *podautoscaler.Controller
	cpu *fakeMetrics
	rec *record.FakeRecorder
}

func newHPAFixture(t *testing.T, custom podautoscaler.CustomMetricsSource) *hpaFixture {
	srv := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &hpaFixture{t: t, ctx: ctx, cs: srv.Clientset(), cpu: &fakeMetrics{cpu: map[string]int64{}}, rec: record.NewFakeRecorder(100)}
	factory := informers.NewSharedInformerFactory(f.cs, 0)
	var err error
	f.c, err = podautoscaler.New(podautoscaler.Config{Client: f.cs, Informers: factory, Metrics: f.cpu, CustomMetrics: custom,
		Clock: clocktesting.NewFakeClock(time.Unix(100000, 0)), Recorder: f.rec})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return f
}

// deployment makes Deployment name with n ready pods (status too, as its controller would).
func (f *hpaFixture) deployment(name string, n int32) {
	f.t.Helper()
	sel := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}
	d, err := f.cs.AppsV1().Deployments("default").Create(f.ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: spec}}}, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	d.Status.Replicas = n
	if _, err := f.cs.AppsV1().Deployments("default").UpdateStatus(f.ctx, d, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	for i := range n {
		p, err := f.cs.CoreV1().Pods("default").Create(f.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, i), Labels: sel}, Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := f.cs.CoreV1().Pods("default").UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// sync creates HPA name for Deployment name with metrics and syncs it until the
// controller's caches hold its pods and the HPA has a ScalingActive condition.
func (f *hpaFixture) sync(name string, metrics ...autoscalingv2.MetricSpec) *autoscalingv2.HorizontalPodAutoscaler {
	f.t.Helper()
	if _, err := f.cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(f.ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MaxReplicas: 10, Metrics: metrics}}, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	var h *autoscalingv2.HorizontalPodAutoscaler
	eventually.That(f.t, 10*time.Second, name+" synced", func() (bool, string) {
		if err := f.c.Sync(f.ctx, "default/"+name); err != nil {
			return false, err.Error()
		}
		h, _ = f.cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(f.ctx, name, metav1.GetOptions{})
		cond := condition(h, autoscalingv2.ScalingActive)
		return cond != nil && !strings.Contains(cond.Message, "no pods returned"), fmt.Sprintf("%+v", h.Status)
	})
	return h
}

func (f *hpaFixture) replicas(name string) int32 {
	d, _ := f.cs.AppsV1().Deployments("default").Get(f.ctx, name, metav1.GetOptions{})
	return *d.Spec.Replicas
}

// events drains the recorded events.
func (f *hpaFixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func condition(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range h.Status.Conditions {
		if h.Status.Conditions[i].Type == t {
			return &h.Status.Conditions[i]
		}
	}
	return nil
}

func podsMetric(name, avg string) autoscalingv2.MetricSpec {
	q := resource.MustParse(avg)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}}}
}

func objectMetric(name string, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main-route"},
		Metric:          autoscalingv2.MetricIdentifier{Name: name}, Target: target}}
}

func externalMetric(name string, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name}, Target: target}}
}

func value(v string) autoscalingv2.MetricTarget {
	q := resource.MustParse(v)
	return autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &q}
}

func average(v string) autoscalingv2.MetricTarget {
	q := resource.MustParse(v)
	return autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}
}

func cpuUtilization(pct int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &pct}}}
}

// webkube serves no custom or external metrics API, so against the real API server a
// Pods, Object or External metric fails as kube's controller fails without an adapter:
// ScalingActive False with FailedGetPodsMetric / FailedGetObjectMetric /
// FailedGetExternalMetric and kube's message, a Warning Event of that reason and one
// FailedComputeMetricsReplicas, and the replicas left alone.
func TestCustomMetricsWithoutAnAdapter(t *testing.T) {
	f := newHPAFixture(t, nil)
	noAPI := "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
	for _, tc := range []struct {
		name   string
		metric autoscalingv2.MetricSpec
		reason string
		cause  string // the condition's and the first event's message
		wrap   string
	}{
		{"pods", podsMetric("packets-per-second", "1k"), "FailedGetPodsMetric",
			"unable to get metric packets-per-second: " + noAPI, "failed to get pods metric value: "},
		{"object", objectMetric("requests-per-second", value("10k")), "FailedGetObjectMetric",
			"unable to get metric requests-per-second on Ingress default/main-route: " + noAPI, "failed to get object metric value: "},
		{"external", externalMetric("queue-depth", average("30")), "FailedGetExternalMetric",
			"unable to get external metric default/queue-depth/nil: unable to fetch metrics from external metrics API: the server could not find the requested resource",
			"failed to get queue-depth external metric value: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.deployment(tc.name, 2)
			h := f.sync(tc.name, tc.metric)
			cond := condition(h, autoscalingv2.ScalingActive)
			if cond.Status != corev1.ConditionFalse || cond.Reason != tc.reason || cond.Message != "the HPA was unable to compute the replica count: "+tc.cause {
				t.Errorf("ScalingActive: %s %s %q", cond.Status, cond.Reason, cond.Message)
			}
			want := []string{"Warning " + tc.reason + " " + tc.cause,
				"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: " + tc.wrap + tc.cause}
			if got := f.events(); len(got) < 2 || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if r := f.replicas(tc.name); r != 2 || h.Status.DesiredReplicas != 2 {
				t.Errorf("replicas %d, desired %d: want 2 (unchanged)", r, h.Status.DesiredReplicas)
			}
		})
	}
}

// As kube: with a Resource metric that can be computed and a Pods metric that cannot,
// the controller scales up on the Resource one (ScalingActive True, the Pods metric's
// status left empty); but it does not scale down on what it could compute alone.
func TestResourceMetricScalesDespiteAnUnavailablePodsMetric(t *testing.T) {
	f := newHPAFixture(t, nil)
	f.deployment("up", 1)
	f.cpu.set("up-0", 180) // 180% of 100m against 50%: 4 replicas
	h := f.sync("up", cpuUtilization(50), podsMetric("packets-per-second", "1k"))
	if cond := condition(h, autoscalingv2.ScalingActive); cond.Status != corev1.ConditionTrue || cond.Reason != "ValidMetricFound" ||
		cond.Message != "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)" {
		t.Errorf("ScalingActive: %+v", cond)
	}
	if r := f.replicas("up"); r != 4 || len(h.Status.CurrentMetrics) != 2 || h.Status.CurrentMetrics[1].Type != "" {
		t.Errorf("replicas %d, current metrics %+v: want 4, the cpu one and an empty one", r, h.Status.CurrentMetrics)
	}
	if ev := strings.Join(f.events(), "\n"); !strings.Contains(ev, "Warning FailedGetPodsMetric unable to get metric packets-per-second") ||
		!strings.Contains(ev, "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target") {
		t.Errorf("events:\n%s", ev)
	}

	f.deployment("down", 4)
	for i := range 4 {
		f.cpu.set(fmt.Sprintf("down-%d", i), 10) // 10% against 50%: 1 replica, were the Pods metric not unknown
	}
	h = f.sync("down", cpuUtilization(50), podsMetric("packets-per-second", "1k"))
	if cond := condition(h, autoscalingv2.ScalingActive); cond.Status != corev1.ConditionFalse || cond.Reason != "FailedGetPodsMetric" {
		t.Errorf("ScalingActive: %+v", cond)
	}
	if r := f.replicas("down"); r != 4 {
		t.Errorf("scaled down to %d on the cpu metric alone, want 4", r)
	}
}

// Pods, Object and External metrics from a custom metrics API (a fake here: webkube
// serves none) are computed as kube's replica calculator does.
func TestCustomMetricProposals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		custom  fakeCustom
		metric  autoscalingv2.MetricSpec
		want    int32
		current string // the status's current value
	}{
		// 2 pods at 300 against an average of 100: ×3 → 6.
		{"pods", fakeCustom{pods: map[string]int64{"pods-0": 300000, "pods-1": 300000}}, podsMetric("rps", "100"), 6, "300"},
		// 2k against 1k on 2 ready pods → 4.
		{"object-value", fakeCustom{object: 2000000}, objectMetric("rps", value("1k")), 4, "2k"},
		// 1.05k against 1k is within the 10% tolerance.
		{"object-tolerance", fakeCustom{object: 1050000}, objectMetric("rps", value("1k")), 2, "1050"},
		// 500 in all against 100 per pod → 5; current is per pod.
		{"object-average", fakeCustom{object: 500000}, objectMetric("rps", average("100")), 5, "250"},
		// 5 + 10 against 10 on 2 ready pods → 3.
		{"external-value", fakeCustom{external: []int64{5000, 10000}}, externalMetric("queue", value("10")), 3, "15"},
		// 30 + 10 against 10 per pod → 4.
		{"external-average", fakeCustom{external: []int64{30000, 10000}}, externalMetric("queue", average("10")), 4, "20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHPAFixture(t, tc.custom)
			name := strings.Split(tc.name, "-")[0]
			f.deployment(name, 2)
			h := f.sync(name, tc.metric)
			if cond := condition(h, autoscalingv2.ScalingActive); cond.Status != corev1.ConditionTrue {
				t.Fatalf("ScalingActive: %+v", cond)
			}
			st := h.Status.CurrentMetrics[0]
			var cur string
			switch {
			case st.Pods != nil:
				cur = st.Pods.Current.AverageValue.String()
			case st.Object != nil && st.Object.Current.Value != nil:
				cur = st.Object.Current.Value.String()
			case st.Object != nil:
				cur = st.Object.Current.AverageValue.String()
			case st.External != nil && st.External.Current.Value != nil:
				cur = st.External.Current.Value.String()
			case st.External != nil:
				cur = st.External.Current.AverageValue.String()
			}
			if r := f.replicas(name); r != tc.want || cur != tc.current {
				t.Errorf("replicas %d at %s, want %d at %s (%+v)", r, cur, tc.want, tc.current, h.Status)
			}
		})
	}
}
