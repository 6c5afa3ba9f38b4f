package podautoscaler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/podautoscaler"
	"webkube/internal/eventually"
)

// fakeMetrics is a metrics API a test sets pod by pod (CPU millicores).
type fakeMetrics struct {
	mu  sync.Mutex
	cpu map[string]int64
}

func (f *fakeMetrics) set(pod string, milli int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cpu[pod] = milli
}

func (f *fakeMetrics) PodUsage(_ context.Context, _ string, _ labels.Selector) (map[string]podautoscaler.PodUsage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]podautoscaler.PodUsage{}
	for p, m := range f.cpu {
		out[p] = podautoscaler.PodUsage{"app": {corev1.ResourceCPU: *resource.NewMilliQuantity(m, resource.DecimalSI)}}
	}
	return out, nil
}

// The controller against the real API server, with fake metrics and a fake clock: a pod at
// 180% of a 50% target scales the Deployment 1→4 through its scale subresource at once; when
// usage falls to 10% the scale-down waits out the 300 s stabilization window (the clock is
// moved), then goes 4→1; status and conditions say so at each step.
func TestScalesUpAtOnceAndDownAfterTheWindow(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(time.Unix(100000, 0))
	metrics := &fakeMetrics{cpu: map[string]int64{}}
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := podautoscaler.New(podautoscaler.Config{Client: cs, Informers: factory,
		Metrics: metrics, Clock: clk, Recorder: record.NewFakeRecorder(100)})
	if err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	sel := map[string]string{"app": "web"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: podSpec}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readyPod := func(name string) {
		t.Helper()
		p, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: sel}, Spec: podSpec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	readyPod("web-1")
	metrics.set("web-1", 180)
	fifty := int32(50)
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas: 5, Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &fifty}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Informers only, no workers: the test alone calls Sync, at the clock it set.
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	// sync syncs until the controller's caches have what the test wrote (a status write
	// from a stale cache conflicts and is retried, as the controller's queue would).
	sync := func(want int32) {
		t.Helper()
		eventually.That(t, 10*time.Second, fmt.Sprintf("%d replicas", want), func() (bool, string) {
			if err := c.Sync(ctx, "default/web"); err != nil {
				return false, err.Error()
			}
			d, _ := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			h, _ := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
			got := fmt.Sprintf("replicas %d, status %+v", *d.Spec.Replicas, h.Status)
			return *d.Spec.Replicas == want && h.Status.DesiredReplicas == want, got
		})
	}
	sync(4)
	h, _ := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
	if u := h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization; u == nil || *u != 180 || h.Status.LastScaleTime == nil {
		t.Fatalf("status after the scale up: %+v", h.Status)
	}

	for i := 2; i <= 4; i++ {
		readyPod(fmt.Sprintf("web-%d", i))
	}
	for i := 1; i <= 4; i++ {
		metrics.set(fmt.Sprintf("web-%d", i), 10)
	}
	clk.Step(15 * time.Second)
	eventually.That(t, 10*time.Second, "10% measured on 4 pods, held by the window", func() (bool, string) {
		if err := c.Sync(ctx, "default/web"); err != nil {
			return false, err.Error()
		}
		h, _ := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
		u := h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization
		return *u == 10 && h.Status.DesiredReplicas == 4, fmt.Sprintf("%+v", h.Status)
	})
	if d, _ := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); *d.Spec.Replicas != 4 {
		t.Fatalf("scaled down inside the stabilization window: %d", *d.Spec.Replicas)
	}
	clk.Step(290 * time.Second) // 305 s after the scale up's proposal, 290 s after the first low one
	sync(1)
	if h, _ := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{}); !h.Status.LastScaleTime.Time.Equal(clk.Now()) {
		t.Fatalf("lastScaleTime %v, want the moved clock's %v", h.Status.LastScaleTime, clk.Now())
	}
}

// `kubectl autoscale rc`: a ReplicationController is scaled through its scale subresource
// as a Deployment is (its selector a label map, the Scale's status.selector made from it).
func TestScalesAReplicationController(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	metrics := &fakeMetrics{cpu: map[string]int64{}}
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := podautoscaler.New(podautoscaler.Config{Client: cs, Informers: factory, Metrics: metrics,
		Clock: clocktesting.NewFakeClock(time.Unix(100000, 0)), Recorder: &record.FakeRecorder{}}) // events dropped
	if err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	sel := map[string]string{"app": "rc-web"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}
	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &one, Selector: sel,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: podSpec}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: sel}, Spec: podSpec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	metrics.set("web-1", 180)
	fifty := int32(50)
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "ReplicationController", Name: "web"},
			MaxReplicas: 5, Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &fifty}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	eventually.That(t, 10*time.Second, "the RC scaled to 4", func() (bool, string) {
		if err := c.Sync(ctx, "default/web"); err != nil {
			return false, err.Error()
		}
		rc, _ := cs.CoreV1().ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
		return *rc.Spec.Replicas == 4, fmt.Sprintf("replicas %d", *rc.Spec.Replicas)
	})
}
