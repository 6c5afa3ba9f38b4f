package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"webkube/web/examples"
)

// busyDeployment is a Deployment whose one pod spins a busy loop, limited to 200m so the
// test stays kind to a shared machine: against its 50m request that is 400%.
const busyDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: busy
spec:
  replicas: 1
  selector:
    matchLabels: {app: busy}
  template:
    metadata:
      labels: {app: busy}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: spin
        image: busybox
        command: ["sh", "-c", "while true; do :; done"]
        resources:
          requests: {cpu: 50m, memory: 16Mi}
          limits: {cpu: 200m}
`

// milli reads a kubectl top CPU cell ("187m", "1") as millicores.
func milli(cell string) int {
	if strings.HasSuffix(cell, "m") {
		n, _ := strconv.Atoi(strings.TrimSuffix(cell, "m"))
		return n
	}
	n, _ := strconv.Atoi(cell)
	return n * 1000
}

// TestKubectlTop: the metrics API on the real binary. kubectl top pods reads a busy
// loop's CPU from its container's cgroup through the kubelet's /stats/summary (near its
// 200m limit, not 0), per container with --containers; kubectl top nodes shows the node.
func TestKubectlTop(t *testing.T) {
	c := startCluster(t, "10.243.0.0/16", "wkas")
	c.apply(busyDeployment)
	c.mustKubectl("rollout", "status", "deployment/busy", "--timeout=90s")
	c.eventually(60*time.Second, "kubectl top pods shows the busy loop's CPU", func() (bool, string) {
		out, err := c.kubectl("top", "pods", "--no-headers")
		f := strings.Fields(out)
		return err == nil && len(f) >= 3 && strings.HasPrefix(f[0], "busy-") && milli(f[1]) >= 100 && milli(f[1]) <= 260, out
	})
	out := c.mustKubectl("top", "pods", "--containers")
	for _, w := range []string{"POD", "NAME", "CPU(cores)", "MEMORY(bytes)", "spin"} {
		if !strings.Contains(out, w) {
			t.Fatalf("top pods --containers lacks %q:\n%s", w, out)
		}
	}
	out = c.mustKubectl("top", "nodes")
	for _, w := range []string{"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"} {
		if !strings.Contains(out, w) {
			t.Fatalf("top nodes lacks %q:\n%s", w, out)
		}
	}
	if f := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); milli(f[1]) < 100 {
		t.Fatalf("the node's CPU is under the busy loop's own:\n%s", out)
	}
	t.Logf("\n%s", out)
	if out, err := c.kubectl("top", "pods", "-n", "kube-system", "no-such-pod"); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("top of a missing pod: %v %s", err, out)
	}
}

// TestHPAScalesBusyDeployment: the editor's busy-autoscale example on the real binary.
// Its one pod spins at its 100m limit, 200% of its 50m request against a 50% target, so
// the horizontal-pod-autoscaler scales the Deployment up to its maxReplicas 3 (4 pods per
// 15 s allowed, the rest TooManyReplicas); get hpa shows the measured utilization and
// describe the SuccessfulRescale event. An HPA on a Pods metric then says, as kube's
// does without an adapter, that there is no custom metrics API.
func TestHPAScalesBusyDeployment(t *testing.T) {
	c := startCluster(t, "10.248.0.0/16", "wkhp")
	c.apply(examples.Get("busy-autoscale"))
	c.eventually(120*time.Second, "the HPA scales busy to 3", func() (bool, string) {
		out, _ := c.kubectl("get", "hpa", "busy", "--no-headers")
		return get(c, "{.spec.replicas}", "deployment", "busy") == "3", out
	})
	out := c.mustKubectl("get", "hpa", "busy")
	t.Logf("\n%s", out)
	for _, w := range []string{"REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "Deployment/busy", "cpu: ", "/50%"} {
		if !strings.Contains(out, w) {
			t.Fatalf("get hpa lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "<unknown>") {
		t.Fatalf("the HPA scaled without showing its measurement:\n%s", out)
	}
	desc := c.mustKubectl("describe", "hpa", "busy")
	for _, w := range []string{"SuccessfulRescale", "New size: 3", "cpu resource utilization (percentage of request) above target",
		"AbleToScale", "ScalingActive", "ValidMetricFound", "ScalingLimited"} {
		if !strings.Contains(desc, w) {
			t.Fatalf("describe hpa lacks %q:\n%s", w, desc)
		}
	}
	c.mustKubectl("rollout", "status", "deployment/busy", "--timeout=90s")
	c.mustKubectl("delete", "hpa", "busy")

	// A Pods metric needs a custom metrics API, which webkube does not serve: the HPA
	// says so as kube's does without an adapter, and leaves the replicas alone.
	c.apply(podsMetricHPA)
	c.eventually(60*time.Second, "describe hpa says there is no custom metrics API", func() (bool, string) {
		out, _ := c.kubectl("describe", "hpa", "busy-pps")
		return strings.Contains(out, "ScalingActive") && strings.Contains(out, "FailedGetPodsMetric") &&
			strings.Contains(out, "unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"), out
	})
	if out := c.mustKubectl("get", "hpa", "busy-pps"); !strings.Contains(out, "<unknown>/1k") {
		t.Errorf("get hpa:\n%s", out)
	}
	if r := get(c, "{.spec.replicas}", "deployment", "busy"); r != "3" {
		t.Errorf("replicas %s after an HPA that cannot compute, want 3", r)
	}
	c.mustKubectl("delete", "hpa", "busy-pps")
	c.mustKubectl("delete", "deployment", "busy")
}

const podsMetricHPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: busy-pps
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Pods
    pods:
      metric: {name: packets-per-second}
      target: {type: AverageValue, averageValue: 1k}
`
