package web

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"nhooyr.io/websocket"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/clustertest"
)

// A Service page shows its endpoints with the proxy's counters, and pushes new counts to
// the open page as they change.
func TestServiceTraffic(t *testing.T) {
	api := apiservertest.Start(t)
	cs := api.Clientset()
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.1.0.2", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "echo-a"}}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.1.0.3", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "echo-b"}}},
			Ports:             []corev1.EndpointPort{{Port: 3000}}}}}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var conns atomic.Uint64
	conns.Store(7)
	traffic := TrafficFunc(func(ns, name string) map[string]Traffic {
		if ns != "default" || name != "echo" {
			return nil
		}
		return map[string]Traffic{"10.1.0.2:3000": {Connections: conns.Load(), BytesIn: 100, BytesOut: 2000}}
	})
	d, err := New(Config{Client: cs, RESTConfig: api.RESTConfig(), Traffic: traffic, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.Start(dctx); err != nil {
		t.Fatal(err)
	}
	var o struct{ ok bool }
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) {
		ob, ok := d.object("service", "default", "echo")
		o.ok = ok && len(ob.Endpoints) == 2
		return o.ok, "endpoints not in the cache yet"
	})
	ob, _ := d.object("service", "default", "echo")
	a, b := ob.Endpoints[0], ob.Endpoints[1]
	if a.Pod != "echo-a" || !a.Ready || a.Conns != 7 || a.BytesOut != 2000 || b.Pod != "echo-b" || b.Ready || b.Conns != 0 {
		t.Errorf("endpoints %+v", ob.Endpoints)
	}

	e := echo.New()
	d.Register(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	conn, _, err := websocket.Dial(wctx, strings.Replace(srv.URL, "http", "ws", 1)+"/ws?obj=service/default/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conns.Store(42)
	for {
		_, m, err := conn.Read(wctx)
		if err != nil {
			t.Fatalf("no pushed update with the new count: %v", err)
		}
		if strings.Contains(string(m), `"id":"obj-live"`) && strings.Contains(string(m), `data-testid=\"conns\">42`) {
			return
		}
	}
}

// "Make probe fail" is offered only on pods that have a probe to break (it answered 502
// on pods without one).
func TestProbeBreakOnlyWithProbes(t *testing.T) {
	api := apiservertest.Start(t)
	cs := api.Clientset()
	ctx := context.Background()
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	for name, p := range map[string]*corev1.Probe{"plain": nil, "probed": probe} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox", LivenessProbe: p}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(Config{Client: cs, RESTConfig: api.RESTConfig(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.Start(dctx); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 5*time.Second, func() (bool, string) {
		_, ok1 := d.object("pod", "default", "plain")
		_, ok2 := d.object("pod", "default", "probed")
		return ok1 && ok2, "pods not in the cache yet"
	})
	plain, _ := d.object("pod", "default", "plain")
	probed, _ := d.object("pod", "default", "probed")
	if plain.ProbeBreak || !probed.ProbeBreak {
		t.Errorf("probe break offered: without probes %v, with a liveness probe %v", plain.ProbeBreak, probed.ProbeBreak)
	}
}
