package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/endpoints"
	"webkube/runtime/simnode"
)

// panicky is a transport that panics, on the calling goroutine as a bug in a sync would,
// for the requests in panics ("METHOD path"), and counts how often it did.
type panicky struct {
	rt     http.RoundTripper
	panics map[string]string // request -> the component whose sync makes it
	mu     sync.Mutex
	n      map[string]int
}

func (p *panicky) RoundTrip(r *http.Request) (*http.Response, error) {
	req := r.Method + " " + r.URL.Path
	if _, ok := p.panics[req]; ok {
		p.mu.Lock()
		p.n[req]++
		p.mu.Unlock()
		panic("injected fault in " + req)
	}
	return p.rt.RoundTrip(r)
}

func (p *panicky) count(req string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[req]
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWorkersSurvivePanics: in namespace "panics", one request of each component panics
// (the ReplicaSet, Deployment, garbage collector and endpoints controllers, the
// scheduler's loop and its binding, a node's status report). Each panic is logged with
// the object's key and its stack and retried with backoff, and the same objects in
// namespace "default" still converge: webkube keeps serving.
func TestWorkersSurvivePanics(t *testing.T) {
	const ns = "/api/v1/namespaces/panics/"
	p := &panicky{n: map[string]int{}, panics: map[string]string{
		"POST " + ns + "pods":                              "replicaset-controller",
		"POST /apis/apps/v1/namespaces/panics/replicasets": "deployment-controller",
		"DELETE " + ns + "pods/orphan":                     "garbage-collector",
		"POST " + ns + "endpoints":                         "endpoints-controller",
		"PUT " + ns + "pods/unschedulable/status":          "scheduler (loop)",
		"POST " + ns + "pods/bind/binding":                 "scheduler (binding)",
		"PUT " + ns + "pods/onnode/status":                 "node",
	}}
	logs := &logBuffer{}
	c := clustertest.Start(t, clustertest.Options{
		Wrap:   func(rt http.RoundTripper) http.RoundTripper { p.rt = rt; return p },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Nodes:  []simnode.Config{{Name: "sim-1", CPU: "8", Memory: "16Gi", Pods: 50}},
	})
	ep, err := endpoints.NewController(endpoints.Config{Client: c.Client, Logger: c.Logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(c.Context()); err != nil {
		t.Fatal(err)
	}
	user := c.API.Clientset() // the test's own writes do not go through the faults
	ctx := c.Context()
	if _, err := user.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "panics"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"panics", "default"} {
		createFaultObjects(t, ctx, user, n)
	}

	for req, who := range p.panics {
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			n := p.count(req)
			return n >= 2, fmt.Sprintf("%s: %s panicked %d times, want a retry after the first", who, req, n)
		})
	}
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) { return defaultConverged(ctx, user) })

	out := logs.String()
	for _, key := range []string{"key=panics/d ", "key=panics/rs ", `key="Pod panics/orphan"`, "key=panics/svc ",
		"key=panics/unschedulable ", "key=panics/bind ", "key=panics/onnode "} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "sync panicked") && strings.Contains(line, key) &&
				strings.Contains(line, "injected fault") && strings.Contains(line, "goroutine") {
				found = true
			}
		}
		if !found {
			t.Errorf("no panic logged with %s and a stack; log:\n%s", key, firstLines(out, 40))
		}
	}
	var counts []string
	for req := range p.panics {
		counts = append(counts, fmt.Sprintf("%s=%d", req, p.count(req)))
	}
	sort.Strings(counts)
	t.Logf("panics injected: %s", strings.Join(counts, ", "))
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "..."
		}
	}
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// createFaultObjects makes, in namespace ns, one object for each component to work on.
func createFaultObjects(t *testing.T, ctx context.Context, c kubernetes.Interface, ns string) {
	t.Helper()
	one := int32(1)
	labels := func(app string) map[string]string { return map[string]string{"app": app} }
	tmpl := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(app)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
	}
	pod := func(name string, mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("create in %s: %v", ns, err)
		}
	}
	must(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels("d")}, Template: tmpl("d")}},
		metav1.CreateOptions{}))
	must(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels("rs")}, Template: tmpl("rs")}},
		metav1.CreateOptions{}))
	must(c.CoreV1().Pods(ns).Create(ctx, pod("orphan", func(p *corev1.Pod) {
		p.Spec.NodeName = "sim-1"
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "gone", UID: "gone-uid"}}
	}), metav1.CreateOptions{}))
	must(c.CoreV1().Pods(ns).Create(ctx, pod("unschedulable", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{"no": "such-node"}
	}), metav1.CreateOptions{}))
	must(c.CoreV1().Pods(ns).Create(ctx, pod("bind", nil), metav1.CreateOptions{}))
	must(c.CoreV1().Pods(ns).Create(ctx, pod("onnode", func(p *corev1.Pod) { p.Spec.NodeName = "sim-1" }), metav1.CreateOptions{}))
	must(c.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc"},
		Spec: corev1.ServiceSpec{Selector: labels("onnode"), Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		metav1.CreateOptions{}))
}

// defaultConverged says whether every object in "default" got what its component does.
func defaultConverged(ctx context.Context, c kubernetes.Interface) (bool, string) {
	pods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err.Error()
	}
	running := map[string]bool{}
	var unschedulable bool
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			running[p.Labels["app"]] = true
		}
		for _, cond := range p.Status.Conditions {
			if p.Name == "unschedulable" && cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				unschedulable = true
			}
		}
	}
	for _, app := range []string{"d", "rs", "bind", "onnode"} {
		if !running[app] {
			return false, fmt.Sprintf("no running pod of %s in default (running: %v)", app, running)
		}
	}
	if !unschedulable {
		return false, "default/unschedulable has no PodScheduled=False condition"
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return false, fmt.Sprintf("default/orphan not collected: %v", err)
	}
	e, err := c.CoreV1().Endpoints("default").Get(ctx, "svc", metav1.GetOptions{})
	if err != nil || len(e.Subsets) == 0 || len(e.Subsets[0].Addresses) == 0 {
		return false, fmt.Sprintf("default/svc has no ready endpoints: %v", err)
	}
	return true, ""
}
