package apiserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/hpaconv"
)

// autoscaling/v1 HorizontalPodAutoscalers are the stored v2 ones: `kubectl autoscale`
// (which writes v1) makes an HPA read as v2 with its cpu metric, v1 reads print
// kubectl's columns, a v2-only metric survives a v1 read and update in kube's
// annotation, and bad v1 input gets kube-apiserver's messages.
func TestKubectlAutoscaleV1(t *testing.T) {
	ctx := context.Background()
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	k.ok(args("api-versions"), "autoscaling/v1\n", "autoscaling/v2\n")
	k.ok(args("api-resources --api-group=autoscaling"), "autoscaling/v2") // v2 is preferred
	k.ok(args("explain hpa.spec.targetCPUUtilizationPercentage --api-version=autoscaling/v1"), "GROUP:      autoscaling", "VERSION:    v1", "targetCPUUtilizationPercentage")

	k.ok(args("create deployment web --image=nginx"), "deployment.apps/web created")
	k.ok(args("autoscale deployment web --cpu-percent=50 --min=1 --max=3"), "horizontalpodautoscaler.autoscaling/web autoscaled")
	h, err := srv.Clientset().AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		*h.Spec.Metrics[0].Resource.Target.AverageUtilization != 50 || *h.Spec.MinReplicas != 1 || h.Spec.MaxReplicas != 3 {
		t.Fatalf("v2 view of kubectl autoscale's HPA: %+v", h.Spec)
	}
	// The full name: kubectl turns the short name hpa.v1.autoscaling into the preferred v2.
	k.ok(args("get horizontalpodautoscalers.v1.autoscaling -v=6"), "GET https://", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", "NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS",
		"web", "Deployment/web", "cpu: <unknown>/50%", "1", "3")
	k.ok(args("get horizontalpodautoscalers.v1.autoscaling web -o yaml"), "apiVersion: autoscaling/v1", "targetCPUUtilizationPercentage: 50")
	// Deployments' scale subresource answers autoscaling/v1 Scale, now in discovery.
	k.ok(args("scale deployment web --replicas=2"), "deployment.apps/web scaled")

	keepsMemoryMetric(t, k, srv)

	out := k.fail(args("create -f hpa-v1-bad.yml"),
		`HorizontalPodAutoscaler.autoscaling "zero" is invalid: [spec.maxReplicas: Invalid value: 0: must be greater than 0, `,
		`HorizontalPodAutoscaler.autoscaling "inverted" is invalid: spec.maxReplicas: Invalid value: 2: must be greater than or equal to `+"`minReplicas`")
	if strings.Contains(out, "created") {
		t.Fatalf("a bad v1 HPA was stored:\n%s", out)
	}
}

// keepsMemoryMetric: a v2 HPA with a memory metric and a behavior, read as v1, carries
// them in kube's annotations, and a v1 update and a v1 patch keep them.
func keepsMemoryMetric(t *testing.T, k *kubectl, srv *apiservertest.Server) {
	ctx := context.Background()
	util, window := int32(50), int32(60)
	mem := resource.MustParse("100Mi")
	v2 := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "mem"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &util}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &mem}}},
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window}},
		},
	}
	hpas := srv.Clientset().AutoscalingV1().HorizontalPodAutoscalers("default")
	w, err := hpas.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=mem"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := srv.Clientset().AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, v2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select { // a v1 watcher sees the v2 create in v1's shape
	case ev := <-w.ResultChan():
		h, ok := ev.Object.(*autoscalingv1.HorizontalPodAutoscaler)
		if !ok || ev.Type != watch.Added || h.Spec.TargetCPUUtilizationPercentage == nil || *h.Spec.TargetCPUUtilizationPercentage != 50 {
			t.Fatalf("v1 watch event: %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no v1 watch event for a v2 create")
	}
	v1, err := hpas.Get(ctx, "mem", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	metrics := v1.Annotations[hpaconv.MetricsAnnotation]
	if *v1.Spec.TargetCPUUtilizationPercentage != 50 || !strings.Contains(metrics, `"name":"memory"`) ||
		!strings.Contains(metrics, `"targetAverageValue":"100Mi"`) || !strings.Contains(v1.Annotations[hpaconv.BehaviorAnnotation], `"stabilizationWindowSeconds":60`) {
		t.Fatalf("v1 view: cpu %v, annotations %v", v1.Spec.TargetCPUUtilizationPercentage, v1.Annotations)
	}
	v1.Spec.MaxReplicas = 7
	if _, err := hpas.Update(ctx, v1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.ok([]string{"patch", "horizontalpodautoscalers.v1.autoscaling", "mem", "-p", `{"spec":{"minReplicas":2}}`}, "horizontalpodautoscaler.autoscaling/mem patched")
	got, err := srv.Clientset().AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "mem", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.MaxReplicas != 7 || *got.Spec.MinReplicas != 2 || len(got.Spec.Metrics) != 2 ||
		got.Spec.Metrics[1].Resource.Name != corev1.ResourceMemory || got.Spec.Metrics[1].Resource.Target.AverageValue.Cmp(mem) != 0 ||
		*got.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != 60 || len(got.Annotations) != 0 {
		t.Fatalf("v2 after v1 update and patch: %+v, annotations %v", got.Spec, got.Annotations)
	}
	k.ok(args("get horizontalpodautoscalers.v1.autoscaling mem"), "cpu: <unknown>/50%, memory: <unknown>/100Mi", "2", "7")
}
