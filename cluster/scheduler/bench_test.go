package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/scheduler"
)

// BenchmarkSchedule1000 measures the scheduler alone: 1000 pending pods already exist on
// ten Ready nodes when it starts; the figure is pods bound per second (decide + bind
// through the API server). Run: go test ./cluster/scheduler -run '^$' -bench Schedule1000 -benchtime 1x
func BenchmarkSchedule1000(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := clustertest.Start(b, clustertest.Options{Unlimited: true, NoScheduler: true})
		ctx, cancel := context.WithCancel(c.Context())
		for j := range 10 {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", j)}}
			created, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			created.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"),
				corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("200")}
			created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			if _, err := c.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for j := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%04d", j), Namespace: "default"},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
				if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		var bound atomic.Int64
		done := make(chan struct{})
		factory := informers.NewSharedInformerFactory(c.Client, 0)
		inf := factory.Core().V1().Pods().Informer()
		seen := sync.Map{}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, o any) {
			p := o.(*corev1.Pod)
			if _, dup := seen.LoadOrStore(p.Name, true); p.Spec.NodeName != "" && !dup && bound.Add(1) == n {
				close(done)
			}
		}}); err != nil {
			b.Fatal(err)
		}
		factory.Start(ctx.Done())
		cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		s, err := scheduler.New(scheduler.Config{Client: c.Client, Logger: c.Logger})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := s.Start(ctx); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			b.Fatalf("only %d of %d bound after 60s", bound.Load(), n)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "pods/s")
		cancel()
	}
}
