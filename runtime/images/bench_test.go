package images_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"

	wkcd "webkube/runtime/containerd"
)

// BenchmarkRunBusybox is the `ctr run --rm busybox true` equivalent: container with a new
// overlayfs snapshot, task create, start, wait for exit, delete task and container. It is
// the baseline for the kubelet's pod startup benchmark.
func BenchmarkRunBusybox(b *testing.B) {
	e := setup(b)
	ctx := ctxNS()
	img, err := e.svc.Ensure(ctx, "busybox", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		id := fmt.Sprintf("bench-%d", i)
		c, err := e.client.NewContainer(ctx, id,
			wkcd.WithRuntime(e.dir),
			containerd.WithImage(img),
			containerd.WithSnapshotter("overlayfs"),
			containerd.WithNewSnapshot(id, img),
			containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("true")))
		if err != nil {
			b.Fatal(err)
		}
		task, err := c.NewTask(ctx, cio.NullIO)
		if err != nil {
			b.Fatal(err)
		}
		ch, err := task.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := task.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if st := <-ch; st.ExitCode() != 0 {
			b.Fatalf("exit %d", st.ExitCode())
		}
		if _, err := task.Delete(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
