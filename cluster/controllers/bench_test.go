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
	"webkube/cluster/scheduler"
	"webkube/runtime/simnode"
)

const benchReplicas = 1000

// podTracker follows the benchmark's pods through an informer (which re-lists if the
// server drops a slow watch) and notes when counts are reached.
type podTracker struct {
	mu                  sync.Mutex
	created, bound, run map[string]bool
	firstBind, lastBind time.Time
	allCreated          chan struct{}
	allBound            chan struct{}
	allRunning          chan struct{}
}

func trackPods(ctx context.Context, b *testing.B, c *clustertest.Cluster) *podTracker {
	pt := &podTracker{created: map[string]bool{}, bound: map[string]bool{}, run: map[string]bool{},
		allCreated: make(chan struct{}), allBound: make(chan struct{}), allRunning: make(chan struct{})}
	observe := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		pt.mu.Lock()
		defer pt.mu.Unlock()
		mark := func(set map[string]bool, done chan struct{}) bool {
			if set[p.Name] {
				return false
			}
			set[p.Name] = true
			if len(set) == benchReplicas {
				close(done)
			}
			return true
		}
		mark(pt.created, pt.allCreated)
		if p.Spec.NodeName != "" && mark(pt.bound, pt.allBound) {
			now := time.Now()
			if pt.firstBind.IsZero() {
				pt.firstBind = now
			}
			pt.lastBind = now
		}
		if p.Status.Phase == corev1.PodRunning {
			mark(pt.run, pt.allRunning)
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithTweakListOptions(
		func(o *metav1.ListOptions) { o.LabelSelector = "app=bench" }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: observe, UpdateFunc: func(_, o any) { observe(o) }}); err != nil {
		b.Fatal(err)
	}
	factory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
	return pt
}

func (pt *podTracker) wait(b *testing.B, ch chan struct{}, what string) {
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		pt.mu.Lock()
		defer pt.mu.Unlock()
		b.Fatalf("%s: after 60s %d created, %d bound, %d running", what, len(pt.created), len(pt.bound), len(pt.run))
	}
}

func benchCluster(b *testing.B, noScheduler bool) *clustertest.Cluster {
	const nodes = 2
	var cfgs []simnode.Config
	for j := range nodes {
		cfgs = append(cfgs, simnode.Config{Name: fmt.Sprintf("sim-%d", j), CPU: "64", Memory: "256Gi",
			Pods: benchReplicas/nodes + 50, Workers: 16})
	}
	return clustertest.Start(b, clustertest.Options{Nodes: cfgs, Unlimited: true, CountRequests: true, NoScheduler: noScheduler})
}

func createBenchRS(ctx context.Context, b *testing.B, c *clustertest.Cluster) {
	replicas := int32(benchReplicas)
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
	if _, err := c.Client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReplicaSet1000 runs a 1000-replica ReplicaSet on simulated nodes twice:
//
//   - everything live: time from creating the ReplicaSet until all 1000 pods are Running
//     (s-to-all-running), with the CPU the whole process used (API server, SQLite,
//     controllers, nodes: the figure that holds when other work shares the machine);
//   - the scheduler started only once the 1000 pods exist: how fast it binds them
//     (scheduled-pods/s), which the live run cannot show because there the scheduler
//     keeps pace with pod creation.
//
// Run: go test ./cluster/controllers -run '^$' -bench ReplicaSet1000 -benchtime 1x
func BenchmarkReplicaSet1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := benchCluster(b, false)
		ctx, cancel := context.WithCancel(c.Context())
		pt := trackPods(ctx, b, c)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		createBenchRS(ctx, b, c)
		pt.wait(b, pt.allRunning, "live")
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		b.ReportMetric(elapsed.Seconds(), "s-to-all-running")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		pt.mu.Lock()
		b.Logf("live: first bind %v, last bind %v, all running %v; requests %v",
			pt.firstBind.Sub(start), pt.lastBind.Sub(start), elapsed, c.Requests())
		pt.mu.Unlock()
		cancel()

		// Scheduler held back until every pod exists.
		c = benchCluster(b, true)
		ctx, cancel = context.WithCancel(c.Context())
		pt = trackPods(ctx, b, c)
		createBenchRS(ctx, b, c)
		pt.wait(b, pt.allCreated, "held")
		s, err := scheduler.New(scheduler.Config{Client: c.Client, Logger: c.Logger})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start = time.Now()
		if err := s.Start(ctx); err != nil {
			b.Fatal(err)
		}
		pt.wait(b, pt.allBound, "held")
		bindAll := time.Since(start)
		b.StopTimer()
		b.ReportMetric(benchReplicas/bindAll.Seconds(), "scheduled-pods/s")
		pt.wait(b, pt.allRunning, "held")
		cancel()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicaSet1000Delete deletes a Running 1000-replica ReplicaSet on simulated
// nodes (background propagation: the garbage collector deletes the pods, the nodes
// confirm) and times it until no pod is left (s-to-zero-pods). Issue 16's target: ≤ 6 s.
func BenchmarkReplicaSet1000Delete(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := clustertest.Start(b, clustertest.Options{Nodes: []simnode.Config{
			{Name: "sim-0", CPU: "64", Memory: "256Gi", Pods: benchReplicas/2 + 50, Workers: 16},
			{Name: "sim-1", CPU: "64", Memory: "256Gi", Pods: benchReplicas/2 + 50, Workers: 16},
		}, CountRequests: true})
		ctx, cancel := context.WithCancel(c.Context())
		pt := trackPods(ctx, b, c)
		createBenchRS(ctx, b, c)
		pt.wait(b, pt.allRunning, "create")
		// The count comes from an informer of the benchmark's own client, so polling
		// costs the cluster nothing and shares no rate limit with it.
		factory := informers.NewSharedInformerFactoryWithOptions(c.API.Clientset(), 0, informers.WithTweakListOptions(
			func(o *metav1.ListOptions) { o.LabelSelector = "app=bench" }))
		left := factory.Core().V1().Pods().Informer()
		factory.Start(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), left.HasSynced)
		before := c.Requests()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		if err := c.Client.AppsV1().ReplicaSets("default").Delete(ctx, "bench", metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for len(left.GetStore().List()) > 0 {
			if time.Now().After(deadline) {
				b.Fatalf("%d pods still there after 90s", len(left.GetStore().List()))
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		b.ReportMetric(elapsed.Seconds(), "s-to-zero-pods")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		after := c.Requests()
		for k, v := range before {
			after[k] -= v
		}
		b.Logf("delete: %v; requests %v", elapsed, after)
		cancel()
	}
}
