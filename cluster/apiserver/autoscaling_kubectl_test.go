package apiserver_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// HorizontalPodAutoscalers (autoscaling/v2) and the metrics API's discovery through the
// real kubectl, with no controllers: kube-apiserver's defaults (minReplicas 1, a given
// behavior's missing rules), validation messages and the columns kubectl prints.
func TestKubectlAutoscalingAPI(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	k.ok(args("api-resources --api-group=autoscaling"), "horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler")
	k.ok(args("api-resources --api-group=metrics.k8s.io"), "nodes", "NodeMetrics", "pods", "PodMetrics", "metrics.k8s.io/v1beta1")
	k.ok(args("explain hpa.spec.behavior.scaleUp"), "stabilizationWindowSeconds", "policies", "selectPolicy")

	k.ok(args("create -f hpa.yml"), "horizontalpodautoscaler.autoscaling/web created")
	k.ok(args("get hpa"), "NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE",
		"web", "Deployment/web", "cpu: <unknown>/50%, memory: <unknown>/100Mi", "1", "5", "0")
	h, err := srv.Clientset().AutoscalingV2().HorizontalPodAutoscalers("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up, down := h.Spec.Behavior.ScaleUp, h.Spec.Behavior.ScaleDown
	if *h.Spec.MinReplicas != 1 || *up.StabilizationWindowSeconds != 0 || len(up.Policies) != 2 || up.Policies[0].Value != 4 ||
		*down.StabilizationWindowSeconds != 60 || down.Policies[0].Value != 100 || *down.SelectPolicy != "Max" {
		t.Fatalf("defaults: min %d, up %+v, down %+v", *h.Spec.MinReplicas, up, down)
	}
	k.fail(args("create -f hpa-bad.yml"), `The HorizontalPodAutoscaler "bad" is invalid`,
		"spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
		"spec.scaleTargetRef.name: Required value",
		"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
		"spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
		"spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
		"spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800")
	k.ok(args("delete hpa web"), `horizontalpodautoscaler.autoscaling "web" deleted`)
}
