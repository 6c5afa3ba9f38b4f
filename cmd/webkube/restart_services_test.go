package main

import (
	"context"
	"testing"
	"time"
)

// restartEcho is two echo replicas, ready once port 3000 answers (probed every second,
// one failure turns a pod unready), behind a NodePort Service.
const restartEcho = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
        - name: app
          image: ghcr.io/subicura/echo:v1
          ports:
            - {name: http, containerPort: 3000}
          readinessProbe:
            httpGet: {path: /, port: 3000}
            periodSeconds: 1
            failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector: {app: echo}
  ports:
    - {port: 80, targetPort: http}
`

// TestRestartKeepsServices is issue 9 item 8: kill -9 webkube and start it again while
// clients hammer a Service's ClusterIP and NodePort. The pods run on in their shims and
// the kernel's NAT rules keep serving while webkube is down; the restarted webkube must
// not take them away either (a kubelet reporting running containers unready until their
// first probe, a proxy writing its rules before it knows every Service's endpoints).
// Not one request may fail.
func TestRestartKeepsServices(t *testing.T) {
	c := startCluster(t, "10.233.0.0/16", "wkq")
	c.apply(restartEcho)
	c.waitReady("app=echo", 2, 90*time.Second)
	c.waitEndpoints("echo", 2, 30*time.Second)
	clusterIP := c.jsonpath("svc/echo", "{.spec.clusterIP}")
	nodePort := c.jsonpath("svc/echo", "{.spec.ports[0].nodePort}")
	urls := []string{"http://" + clusterIP + "/", "http://127.0.0.1:" + nodePort + "/"}
	for _, u := range urls {
		if _, fails := getMany(u, 20); fails != nil {
			t.Fatalf("%s fails before the restart: %d of 20, first %v", u, len(fails), fails[0])
		}
	}
	pods := c.podNames("app=echo")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loads []*load
	for _, u := range urls {
		loads = append(loads, startLoad(ctx, u))
	}
	start := time.Now()
	time.Sleep(time.Second) // load before the kill
	c.kill9()
	killed := time.Since(start)
	c.start()
	restarted := time.Since(start)
	// The restarted kubelet probes every pod again and the endpoints controller and the
	// proxy resync: keep the load on until both pods have been probed by the new kubelet
	// (their Ready condition is written again) and some seconds beyond.
	c.waitReady("app=echo", 2, 30*time.Second)
	c.waitEndpoints("echo", 2, 30*time.Second)
	time.Sleep(8 * time.Second)
	cancel()

	var n, failed int
	served := map[string]int{}
	for _, l := range loads {
		l.wait()
		n += l.n
		failed += len(l.fails)
		for h, k := range l.counts {
			served[h] += k
		}
		for i, f := range l.fails {
			if i < 5 {
				t.Errorf("%s failed at +%s: %v", l.url, f.at.Sub(start).Round(time.Millisecond), f.err)
			}
		}
	}
	t.Logf("killed at +%s, serving again at +%s; %d requests over %s, %d failed; served: %v",
		killed.Round(time.Millisecond), restarted.Round(time.Millisecond), n, time.Since(start).Round(time.Millisecond), failed, served)
	if failed != 0 {
		t.Fatalf("%d of %d requests failed across kill -9 and restart", failed, n)
	}
	if n < 200 {
		t.Fatalf("only %d requests: the load did not run", n)
	}
	assertAllServed(t, served, pods)
	if now := c.podNames("app=echo"); len(now) != 2 || now[0] != pods[0] || now[1] != pods[1] {
		t.Fatalf("pods changed across the restart: %v -> %v", pods, now)
	}
}
