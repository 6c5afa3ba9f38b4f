package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/apiserver"
	"webkube/cluster/apiserver/apiservertest"
)

// BenchmarkList measures LISTs of 1,000 and 10,000 pods (as a scheduler and kubelets
// leave them: bound to one of 100 nodes, Running) over HTTP: all pods, by label
// (a tenth of them), by field (spec.nodeName, a hundredth), each at resourceVersion=0
// and consistent (no resourceVersion). The figures of issue 16 are the targets.
//
// The same-run baseline is "store": the same LIST at resourceVersionMatch=Exact, which
// the API server answers by reading every row from SQLite at that revision, decoding,
// filtering and encoding each, as every LIST did before the watch cache.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		srv := apiservertest.Start(b)
		fillPods(b, srv, n)
		hc := srv.HTTPClient()
		exact := "resourceVersion=" + currentRV(b, srv) + "&resourceVersionMatch=Exact"
		for _, filter := range []struct{ name, query string }{
			{"all", ""},
			{"label", "&labelSelector=app%3Dapp-3"},
			{"field", "&fieldSelector=spec.nodeName%3Dnode-7"},
		} {
			for _, rv := range []struct{ name, query string }{{"rv0", "resourceVersion=0"}, {"consistent", "x=1"}, {"store", exact}} {
				b.Run(fmt.Sprintf("pods=%d/%s/%s", n, filter.name, rv.name), func(b *testing.B) {
					url := srv.URL + "/api/v1/pods?" + rv.query + filter.query
					benchGets(b, hc, srv.Token, url)
				})
			}
		}
	}
}

// BenchmarkKubectlGetPods10000 runs the real `kubectl get pods -A` (a Table, in pages of
// 500) on 10,000 pods.
func BenchmarkKubectlGetPods10000(b *testing.B) {
	if _, err := os.Stat(kubectlPath); err != nil {
		b.Fatalf("needs kubectl at %s: %v", kubectlPath, err)
	}
	srv := apiservertest.Start(b)
	fillPods(b, srv, 10000)
	cache := b.TempDir()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c := exec.Command(kubectlPath, "--kubeconfig", srv.KubeconfigPath, "--cache-dir", cache, "get", "pods", "-A", "--no-headers")
		c.Env = append(os.Environ(), "HOME="+cache)
		out, err := c.Output()
		if err != nil {
			b.Fatalf("kubectl get pods: %v", err)
		}
		lat = append(lat, time.Since(t0))
		if lines := countLines(out); lines != 10000 {
			b.Fatalf("kubectl printed %d pods, want 10000", lines)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// currentRV is the revision a LIST of pods reports now.
func currentRV(b *testing.B, srv *apiservertest.Server) string {
	l, err := srv.Clientset().CoreV1().Pods("").List(context.Background(), metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	return l.ResourceVersion
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

func benchGets(b *testing.B, hc *http.Client, token, url string) {
	lat := make([]time.Duration, 0, b.N)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func reportLatency(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// fillPods writes n pods straight into the store (the API server's create path is
// measured by BenchmarkPodCreate; here only the reads are).
func fillPods(b *testing.B, srv *apiservertest.Server, n int) {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		p := benchPod(i)
		data, err := json.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		key, err := apiserver.KeyFor(schema.GroupResource{Resource: "pods"}, p.Namespace, p.Name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Store.Create(ctx, key, data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPod(i int) *corev1.Pod {
	ns := fmt.Sprintf("ns-%d", i%10)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("pod-%05d", i), Namespace: ns, UID: types.UID(fmt.Sprint("uid-", i)),
			Labels:            map[string]string{"app": fmt.Sprintf("app-%d", i%10), "tier": "web"},
			CreationTimestamp: metav1.NewTime(time.Unix(1700000000, 0)),
		},
		Spec: corev1.PodSpec{
			NodeName: fmt.Sprintf("node-%d", i%100), RestartPolicy: corev1.RestartPolicyAlways,
			SchedulerName: "default-scheduler", ServiceAccountName: "default",
			Containers: []corev1.Container{{
				Name: "app", Image: "nginx:1.27", ImagePullPolicy: corev1.PullIfNotPresent,
				Ports:                    []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.244.%d.%d", i/250%250, i%250+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: true, Image: "nginx:1.27", ImageID: "sha256:abc",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Unix(1700000001, 0))}},
			}},
		},
	}
}
