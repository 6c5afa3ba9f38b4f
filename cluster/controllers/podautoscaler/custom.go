package podautoscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
)

// CustomMetricsSource reads the custom and external metrics APIs, which adapters (such as
// prometheus-adapter) serve in a real cluster; values are milli-units.
type CustomMetricsSource interface {
	// PodsMetric is the metric of each pod pods selects, by pod name.
	PodsMetric(ctx context.Context, namespace, metric string, pods, metricSel labels.Selector) (map[string]int64, error)
	// ObjectMetric is the metric of one object of the namespace.
	ObjectMetric(ctx context.Context, namespace, metric string, obj autoscalingv2.CrossVersionObjectReference, metricSel labels.Selector) (int64, error)
	// ExternalMetric is the values of a metric from outside the cluster.
	ExternalMetric(ctx context.Context, namespace, metric string, metricSel labels.Selector) ([]int64, error)
}

const (
	customGroup   = "custom.metrics.k8s.io"
	externalGroup = "external.metrics.k8s.io"
)

// APICustomMetrics reads custom.metrics.k8s.io/v1beta2 and external.metrics.k8s.io/v1beta1
// through the API server, as the controller manager's REST metrics client does. webkube's
// API server aggregates no adapter, so unless one is registered every read fails with
// kube's own words: "no custom metrics API (custom.metrics.k8s.io) registered".
type APICustomMetrics struct{ Client kubernetes.Interface }

// PodsMetric lists the pods' metric values.
func (m APICustomMetrics) PodsMetric(ctx context.Context, namespace, metric string, pods, metricSel labels.Selector) (map[string]int64, error) {
	list, err := m.custom(ctx, []string{"namespaces", namespace, "pods", "*", metric}, pods, metricSel)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, v := range list.Items {
		out[v.DescribedObject.Name] = v.Value.MilliValue()
	}
	return out, nil
}

// ObjectMetric reads one object's metric value.
func (m APICustomMetrics) ObjectMetric(ctx context.Context, namespace, metric string, obj autoscalingv2.CrossVersionObjectReference, metricSel labels.Selector) (int64, error) {
	if err := m.registered(customGroup, "custom"); err != nil {
		return 0, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	resource, err := m.resourceOf(obj)
	if err != nil {
		return 0, fmt.Errorf("unable to map kind %s to resource: %w", obj.Kind, err)
	}
	list, err := m.custom(ctx, []string{"namespaces", namespace, resource, obj.Name, metric}, nil, metricSel)
	if err != nil {
		return 0, err
	}
	return list.Items[0].Value.MilliValue(), nil
}

// ExternalMetric lists the external metric's values.
func (m APICustomMetrics) ExternalMetric(ctx context.Context, namespace, metric string, metricSel labels.Selector) ([]int64, error) {
	raw, err := m.Client.CoreV1().RESTClient().Get().AbsPath("/apis", externalGroup, "v1beta1", "namespaces", namespace, strings.ToLower(metric)).
		Param("labelSelector", metricSel.String()).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	var list emv1beta1.ExternalMetricValueList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no metrics returned from external metrics API")
	}
	out := make([]int64, 0, len(list.Items))
	for _, v := range list.Items {
		out = append(out, v.Value.MilliValue())
	}
	return out, nil
}

// custom GETs a custom.metrics.k8s.io/v1beta2 path, once discovery shows the group.
func (m APICustomMetrics) custom(ctx context.Context, path []string, sel, metricSel labels.Selector) (*cmv1beta2.MetricValueList, error) {
	if err := m.registered(customGroup, "custom"); err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	req := m.Client.CoreV1().RESTClient().Get().AbsPath(append([]string{"/apis", customGroup, "v1beta2"}, path...)...)
	if sel != nil {
		req = req.Param("labelSelector", sel.String())
	}
	if metricSel != nil && !metricSel.Empty() {
		req = req.Param("metricLabelSelector", metricSel.String())
	}
	raw, err := req.DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	var list cmv1beta2.MetricValueList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no metrics returned from custom metrics API")
	}
	return &list, nil
}

// registered asks discovery whether the API server serves group (kube's metrics client
// does the same before its first read).
func (m APICustomMetrics) registered(group, what string) error {
	groups, err := m.Client.Discovery().ServerGroups()
	if err != nil {
		return err
	}
	for _, g := range groups.Groups {
		if g.Name == group {
			return nil
		}
	}
	return fmt.Errorf("no %s metrics API (%s) registered", what, group)
}

// resourceOf finds the resource (plural) of the object's kind in discovery.
func (m APICustomMetrics) resourceOf(obj autoscalingv2.CrossVersionObjectReference) (string, error) {
	list, err := m.Client.Discovery().ServerResourcesForGroupVersion(obj.APIVersion)
	if err != nil {
		return "", err
	}
	for _, r := range list.APIResources {
		if r.Kind == obj.Kind && !strings.Contains(r.Name, "/") {
			return r.Name, nil
		}
	}
	return "", fmt.Errorf("no resource of kind %s in %s", obj.Kind, obj.APIVersion)
}
