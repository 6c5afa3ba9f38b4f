package podautoscaler

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// PodUsage is one pod's measured usage by container name.
type PodUsage map[string]corev1.ResourceList

// MetricsSource reads the usage of a namespace's pods that sel selects, by pod name.
type MetricsSource interface {
	PodUsage(ctx context.Context, namespace string, sel labels.Selector) (map[string]PodUsage, error)
}

// APIMetrics reads the metrics API (metrics.k8s.io/v1beta1 PodMetrics), as the controller
// manager's resource metrics client does.
type APIMetrics struct{ Client kubernetes.Interface }

// PodUsage lists PodMetrics.
func (m APIMetrics) PodUsage(ctx context.Context, namespace string, sel labels.Selector) (map[string]PodUsage, error) {
	raw, err := m.Client.CoreV1().RESTClient().Get().
		AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", namespace, "pods").
		Param("labelSelector", sel.String()).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	var list metricsv1beta1.PodMetricsList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("resource metrics API: %w", err)
	}
	out := map[string]PodUsage{}
	for _, pm := range list.Items {
		u := PodUsage{}
		for _, c := range pm.Containers {
			u[c.Name] = c.Usage
		}
		out[pm.Name] = u
	}
	return out, nil
}
