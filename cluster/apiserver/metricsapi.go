package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"webkube/runtime/stats"
)

// The metrics API (metrics.k8s.io/v1beta1) is served here as metrics-server would serve it
// behind the aggregator: NodeMetrics and PodMetrics made on each request from the
// kubelets' /stats/summary. Nothing is stored. A node without a kubelet server (a
// simulated node) has no metrics, and neither have its pods, as a node metrics-server
// cannot scrape.
var metricsV1beta1 = metricsv1beta1.SchemeGroupVersion

var metricsResources = []*resource{
	{
		gvr: metricsV1beta1.WithResource("nodes"), kind: "NodeMetrics", singular: "", metrics: true,
		newObj: func() runtime.Object { return &metricsv1beta1.NodeMetrics{} }, newList: func() runtime.Object { return &metricsv1beta1.NodeMetricsList{} },
	},
	{
		gvr: metricsV1beta1.WithResource("pods"), kind: "PodMetrics", singular: "", namespaced: true, metrics: true,
		newObj: func() runtime.Object { return &metricsv1beta1.PodMetrics{} }, newList: func() runtime.Object { return &metricsv1beta1.PodMetricsList{} },
	},
}

// serveMetricsAPI answers get and list of NodeMetrics and PodMetrics.
func (s *Server) serveMetricsAPI(w http.ResponseWriter, r *http.Request, t target) error {
	q := r.URL.Query()
	if r.Method != http.MethodGet || queryBool(q, "watch") || t.legacyWatch || t.sub != "" {
		return apierrors.NewMethodNotSupported(t.res.gr(), r.Method)
	}
	sel, err := parseSelectors(t.res, q, t.name)
	if err != nil {
		return err
	}
	nodes, _, err := s.list(r.Context(), resourceFor(coreGR("nodes")), "", selectors{label: labels.Everything(), field: fields.Everything()}, url.Values{})
	if err != nil {
		return err
	}
	summaries := s.scrape(r.Context(), nodes)
	var items []runtime.Object
	if t.res.gvr.Resource == "nodes" {
		items = nodeMetrics(nodes, summaries, sel)
	} else {
		pods, _, err := s.list(r.Context(), resourceFor(coreGR("pods")), t.namespace, sel, url.Values{})
		if err != nil {
			return err
		}
		items = podMetrics(pods, summaries)
	}
	if t.name != "" {
		if len(items) == 0 {
			return apierrors.NewNotFound(t.res.gr(), t.name)
		}
		writeJSON(w, http.StatusOK, items[0])
		return nil
	}
	list, err := newList(t.res, items, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// scrape reads each node's kubelet summary; a kubelet that does not answer is logged and
// left out (its node and pods have no metrics this time).
func (s *Server) scrape(ctx context.Context, nodes []runtime.Object) map[string]*stats.Summary {
	out := map[string]*stats.Summary{}
	if s.kubelets == nil {
		return out
	}
	client := &http.Client{Transport: s.kubelets, Timeout: 5 * time.Second}
	for _, o := range nodes {
		node := o.(*corev1.Node)
		hostPort := kubeletEndpoint(node)
		if hostPort == "" {
			continue
		}
		sum, err := getSummary(ctx, client, "https://"+hostPort+"/stats/summary")
		if err != nil {
			s.log.Warn("metrics: kubelet summary", "node", node.Name, "err", err)
			continue
		}
		out[node.Name] = sum
	}
	return out
}

func getSummary(ctx context.Context, c *http.Client, u string) (*stats.Summary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var sum stats.Summary
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return &sum, nil
}

func nodeMetrics(nodes []runtime.Object, sums map[string]*stats.Summary, sel selectors) []runtime.Object {
	var items []runtime.Object
	for _, o := range nodes {
		node := o.(*corev1.Node)
		sum := sums[node.Name]
		if sum == nil || sum.Node.CPU == nil || sum.Node.Memory == nil || !sel.matches(resourceFor(coreGR("nodes")), node) {
			continue
		}
		items = append(items, &metricsv1beta1.NodeMetrics{
			TypeMeta:   metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsV1beta1.String()},
			ObjectMeta: metricsMeta(node.ObjectMeta, sum.Node.CPU.Time),
			Timestamp:  sum.Node.CPU.Time, Window: sum.Node.CPU.Window,
			Usage: usage(sum.Node.CPU, sum.Node.Memory),
		})
	}
	return items
}

// podMetrics has an item for each pod whose kubelet reported all its running containers.
func podMetrics(pods []runtime.Object, sums map[string]*stats.Summary) []runtime.Object {
	byUID := map[string]*stats.PodStats{}
	for _, sum := range sums {
		for i := range sum.Pods {
			byUID[sum.Pods[i].PodRef.UID] = &sum.Pods[i]
		}
	}
	var items []runtime.Object
	for _, o := range pods {
		pod := o.(*corev1.Pod)
		ps := byUID[string(pod.UID)]
		if ps == nil || len(ps.Containers) == 0 {
			continue
		}
		pm := &metricsv1beta1.PodMetrics{TypeMeta: metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsV1beta1.String()}}
		for _, c := range ps.Containers {
			if c.CPU == nil || c.Memory == nil {
				continue
			}
			pm.Timestamp, pm.Window = c.CPU.Time, c.CPU.Window
			pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: usage(c.CPU, c.Memory)})
		}
		pm.ObjectMeta = metricsMeta(pod.ObjectMeta, pm.Timestamp)
		items = append(items, pm)
	}
	return items
}

// metricsMeta is the object's name, namespace and labels, as metrics-server gives them.
func metricsMeta(m metav1.ObjectMeta, at metav1.Time) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels, CreationTimestamp: at}
}

func usage(cpu *stats.CPUStats, mem *stats.MemoryStats) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *apiresource.NewScaledQuantity(int64(cpu.UsageNanoCores), apiresource.Nano),
		corev1.ResourceMemory: *apiresource.NewQuantity(int64(mem.WorkingSetBytes), apiresource.BinarySI),
	}
}
