package endpoints_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/endpoints"
	"webkube/runtime/simnode"
)

const echoDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
          ports:
            - name: http
              containerPort: 3000
`

// podIPs lists the IPs of running pods matching selector, sorted.
func podIPs(t *testing.T, c *clustertest.Cluster, selector string) []string {
	t.Helper()
	l, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range l.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			out = append(out, p.Status.PodIP)
		}
	}
	sort.Strings(out)
	return out
}

// endpointsColumn is the ENDPOINTS column of `kubectl get endpoints NAME`, addresses sorted.
func endpointsColumn(t *testing.T, c *clustertest.Cluster, name string) string {
	t.Helper()
	out, err := c.Kubectl(t, "", "get", "endpoints", name, "--no-headers")
	if err != nil {
		return "error: " + out
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		return out
	}
	addrs := strings.Split(f[1], ",")
	sort.Strings(addrs)
	return strings.Join(addrs, ",")
}

func withPort(ips []string, port string) string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip+":"+port)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestKubectlSeesEndpoints drives a real API server with kubectl: a Deployment exposed by
// `kubectl expose` gets Endpoints and an EndpointSlice that `kubectl get endpoints`,
// `kubectl get endpointslices` and `kubectl describe svc` show as a real cluster does,
// following scale, relabelling, readiness and deletion.
func TestKubectlSeesEndpoints(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	ctrl, err := endpoints.NewController(endpoints.Config{Client: c.Client, Logger: c.Logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Start(c.Context()); err != nil {
		t.Fatal(err)
	}

	c.MustKubectl(t, echoDeploy, "apply", "-f", "-")
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		ips := podIPs(t, c, "app=echo")
		return len(ips) == 3, fmt.Sprint(ips)
	})
	out := c.MustKubectl(t, "", "expose", "deployment", "echo", "--port", "80", "--target-port", "http", "--type", "NodePort")
	if !strings.Contains(out, "service/echo exposed") {
		t.Fatalf("expose: %s", out)
	}
	want := withPort(podIPs(t, c, "app=echo"), "3000") // the named port resolved per pod
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		got := endpointsColumn(t, c, "echo")
		return got == want, got
	})
	out = c.MustKubectl(t, "", "get", "endpoints", "echo")
	if !regexp.MustCompile(`(?m)^NAME\s+ENDPOINTS\s+AGE$`).MatchString(out) {
		t.Errorf("get endpoints header:\n%s", out)
	}
	out = c.MustKubectl(t, "", "get", "endpointslices", "-l", "kubernetes.io/service-name=echo")
	if !regexp.MustCompile(`(?m)^echo-\w{5}\s+IPv4\s+3000\s+\S+,\S+,\S+\s+`).MatchString(out) {
		t.Errorf("get endpointslices:\n%s", out)
	}
	out = c.MustKubectl(t, "", "describe", "svc", "echo")
	for _, re := range []string{`(?m)^Selector:\s+app=echo$`, `(?m)^Type:\s+NodePort$`, `(?m)^TargetPort:\s+http/TCP$`, `(?m)^Endpoints:\s+\S+:3000,\S+:3000,\S+:3000$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe svc: no match for %s in\n%s", re, out)
		}
	}

	// Scale down: the endpoints follow.
	c.MustKubectl(t, "", "scale", "deployment", "echo", "--replicas", "1")
	clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
		ips := podIPs(t, c, "app=echo")
		got := endpointsColumn(t, c, "echo")
		return len(ips) == 1 && got == withPort(ips, "3000"), got
	})

	// A pod that is not ready is listed under notReadyAddresses, not addresses. It sits on
	// a node name no simulated kubelet owns, so nothing flips it back to ready.
	ctx := context.Background()
	unready := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-manual", Namespace: "default", Labels: map[string]string{"app": "echo"}},
		Spec: corev1.PodSpec{NodeName: "elsewhere", Containers: []corev1.Container{{Name: "echo", Image: "ghcr.io/subicura/echo:v1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3001}}}}},
	}
	p, err := c.Client.CoreV1().Pods("default").Create(ctx, unready, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.99.0.5", PodIPs: []corev1.PodIP{{IP: "10.99.0.5"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}
	if p, err = c.Client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		ep, err := c.Client.CoreV1().Endpoints("default").Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		var notReady []string
		for _, ss := range ep.Subsets {
			for _, a := range ss.NotReadyAddresses {
				notReady = append(notReady, fmt.Sprintf("%s:%d", a.IP, ss.Ports[0].Port))
			}
		}
		return fmt.Sprint(notReady) == "[10.99.0.5:3001]", fmt.Sprint(ep.Subsets)
	})
	if got := endpointsColumn(t, c, "echo"); strings.Contains(got, "10.99.0.5") {
		t.Errorf("kubectl lists the unready pod: %s", got)
	}
	p.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err = c.Client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		got := endpointsColumn(t, c, "echo")
		return strings.Contains(got, "10.99.0.5:3001") && strings.Count(got, ",") == 1, got
	})

	// Deleting the Service removes its Endpoints and slices.
	c.MustKubectl(t, "", "delete", "svc", "echo")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "endpoints,endpointslices", "-l", "app=echo", "--no-headers")
		out2, _ := c.Kubectl(t, "", "get", "endpoints", "echo")
		return strings.Contains(out2, "NotFound") && !strings.Contains(out, "echo"), out + out2
	})
}
