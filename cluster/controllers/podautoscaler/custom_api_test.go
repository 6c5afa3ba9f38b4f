package podautoscaler

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
)

// APICustomMetrics against a fake API server that serves the custom and external metrics
// APIs, as an adapter registered with an aggregating kube-apiserver would: it finds the
// group in discovery, maps the object's kind to its resource, and reads the paths and
// selectors kube's metrics clients read.
func TestAPICustomMetricsReadsAnAdapter(t *testing.T) {
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mv := func(pod string, v string) cmv1beta2.MetricValue {
		return cmv1beta2.MetricValue{DescribedObject: corev1.ObjectReference{Kind: "Pod", Name: pod}, Value: resource.MustParse(v)}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/api":
			reply(w, metav1.APIVersions{Versions: []string{"v1"}})
		case "/apis":
			gv := metav1.GroupVersionForDiscovery{GroupVersion: customGroup + "/v1beta2", Version: "v1beta2"}
			reply(w, metav1.APIGroupList{Groups: []metav1.APIGroup{{Name: customGroup, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}}})
		case "/apis/networking.k8s.io/v1":
			reply(w, metav1.APIResourceList{GroupVersion: "networking.k8s.io/v1", APIResources: []metav1.APIResource{
				{Name: "ingresses/status", Kind: "Ingress"}, {Name: "ingresses", Kind: "Ingress", Namespaced: true}}})
		case "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/rps":
			if q.Get("labelSelector") != "app=web" || q.Get("metricLabelSelector") != "verb=GET" {
				http.Error(w, "selectors "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			reply(w, cmv1beta2.MetricValueList{Items: []cmv1beta2.MetricValue{mv("web-1", "300"), mv("web-2", "1500m")}})
		case "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/ingresses/main/rps":
			reply(w, cmv1beta2.MetricValueList{Items: []cmv1beta2.MetricValue{mv("", "2k")}})
		case "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue":
			reply(w, emv1beta1.ExternalMetricValueList{Items: []emv1beta1.ExternalMetricValue{{Value: resource.MustParse("5")}, {Value: resource.MustParse("10")}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	m, ctx := APICustomMetrics{Client: cs}, context.Background()
	pods, err := m.PodsMetric(ctx, "default", "rps", labels.SelectorFromSet(labels.Set{"app": "web"}), labels.SelectorFromSet(labels.Set{"verb": "GET"}))
	if want := map[string]int64{"web-1": 300000, "web-2": 1500}; err != nil || !reflect.DeepEqual(pods, want) {
		t.Errorf("pods metric: %v %v, want %v", pods, err, want)
	}
	obj, err := m.ObjectMetric(ctx, "default", "rps", autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main"}, labels.Everything())
	if err != nil || obj != 2000000 {
		t.Errorf("object metric: %d %v, want 2000000", obj, err)
	}
	ext, err := m.ExternalMetric(ctx, "default", "queue", labels.Everything())
	if err != nil || !reflect.DeepEqual(ext, []int64{5000, 10000}) {
		t.Errorf("external metric: %v %v", ext, err)
	}
}
