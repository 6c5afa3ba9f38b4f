package controllers_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// BenchmarkReplicaSet1000 creates a 1000-replica ReplicaSet on ten simulated nodes and
// measures the time until every pod is Running and the scheduler's binding rate (first
// to last pod seen bound). Run: go test ./cluster/controllers -run '^$' -bench ReplicaSet1000 -benchtime 1x
var benchNodes = 2

func BenchmarkReplicaSet1000(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var nodes []simnode.Config
		for j := range benchNodes {
			nodes = append(nodes, simnode.Config{Name: fmt.Sprintf("sim-%d", j), CPU: "64", Memory: "256Gi", Pods: 1500/benchNodes + 50, Workers: 16})
		}
		c := clustertest.Start(b, clustertest.Options{Nodes: nodes, Unlimited: true, CountRequests: true})
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		bound, running := map[string]bool{}, map[string]bool{}
		var firstBind, lastBind, lastAdd, firstRun time.Time
		added := 0
		allRunning := make(chan struct{})
		observe := func(obj any) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if p.Spec.NodeName == "" && p.Status.Phase == "" || p.Spec.NodeName == "" && p.Status.Phase == corev1.PodPending {
				if added++; added == n {
					lastAdd = time.Now()
				}
			}
			if p.Status.Phase == corev1.PodRunning && firstRun.IsZero() {
				firstRun = time.Now()
			}
			if p.Spec.NodeName != "" && !bound[p.Name] {
				bound[p.Name] = true
				now := time.Now()
				if firstBind.IsZero() {
					firstBind = now
				}
				lastBind = now
			}
			if p.Status.Phase == corev1.PodRunning && !running[p.Name] {
				running[p.Name] = true
				if len(running) == n {
					close(allRunning)
				}
			}
		}
		// An informer, not a bare watch: it re-lists if the server drops a slow watcher.
		factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithTweakListOptions(
			func(o *metav1.ListOptions) { o.LabelSelector = "app=bench" }))
		inf := factory.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: observe, UpdateFunc: func(_, o any) { observe(o) }}); err != nil {
			b.Fatal(err)
		}
		factory.Start(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		replicas := int32(n)
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bench"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
				},
			},
		}
		b.StartTimer()
		start := time.Now()
		cpu0 := cpuTime()
		if _, err := c.Client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-allRunning:
		case <-time.After(60 * time.Second):
			mu.Lock()
			b.Fatalf("after 60s: %d bound, %d running", len(bound), len(running))
		}
		elapsed := time.Since(start)
		cpu := cpuTime() - cpu0
		b.StopTimer()
		cancel()
		mu.Lock()
		b.ReportMetric(elapsed.Seconds(), "s-to-all-running")
		// CPU of the whole process (API server, SQLite, controllers, nodes): the figure that
		// holds when other work shares the machine and wall time does not.
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.Logf("created(ish) %v, first bind %v, last bind %v, first running %v, all running %v",
			lastAdd.Sub(start), firstBind.Sub(start), lastBind.Sub(start), firstRun.Sub(start), elapsed)
		if span := lastBind.Sub(firstBind).Seconds(); span > 0 {
			b.ReportMetric(float64(len(bound))/span, "scheduled-pods/s")
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "running-pods/s")
		mu.Unlock()
		b.Logf("requests: %v", c.Requests())
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
