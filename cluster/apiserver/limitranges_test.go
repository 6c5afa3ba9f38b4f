package apiserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// A LimitRange with the real kubectl: its defaults land on a pod that states nothing
// (with the plugin's annotation and the QoS class that follows), and pods outside
// min, max or the ratio are refused with kube-apiserver's messages.
func TestKubectlLimitRange(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	k.ok(args("create -f limitrange.yml"), "limitrange/cpu-mem created")
	out := k.ok(args("get limits"), "NAME", "CREATED AT", "cpu-mem")
	if !strings.Contains(out, time.Now().UTC().Format("2006-01-02T")) {
		t.Fatalf("CREATED AT is not an RFC 3339 time:\n%s", out)
	}
	k.ok(args("describe limitrange cpu-mem"), "Container", "cpu", "50m", "1", "100m", "500m", "10", "memory", "256Mi")

	k.ok(args("run plain --image=busybox"), "pod/plain created")
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "plain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := pod.Spec.Containers[0].Resources
	if got := r.Requests.Cpu().String() + " " + r.Limits.Cpu().String() + " " + r.Limits.Memory().String() + " " + r.Requests.Memory().String(); got != "100m 500m 256Mi 256Mi" {
		t.Fatalf("defaulted requests/limits cpu, cpu limit, memory limit, memory request: %s", got)
	}
	if a := pod.Annotations["kubernetes.io/limit-ranger"]; a != "LimitRanger plugin set: cpu, memory request for container plain; cpu, memory limit for container plain" {
		t.Fatalf("annotation: %q", a)
	}
	if pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Fatalf("qosClass %q, want Burstable", pod.Status.QOSClass)
	}

	big := podWith("big", nil, corev1.ResourceList{"cpu": resource.MustParse("2")})
	_, err = cs.CoreV1().Pods("default").Create(ctx, big, metav1.CreateOptions{})
	// Its request defaults to its limit (the pod's own defaults), so only max is broken.
	want := `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`
	if err == nil || err.Error() != want {
		t.Fatalf("over max: got %v\nwant %s", err, want)
	}
	tiny := podWith("tiny", corev1.ResourceList{"cpu": resource.MustParse("10m")}, nil)
	_, err = cs.CoreV1().Pods("default").Create(ctx, tiny, metav1.CreateOptions{})
	// Its default limit (500m) is 50 times its request: two refusals, as kube lists them.
	want = `pods "tiny" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, cpu max limit to request ratio per Container is 10, but provided ratio is 50.000000]`
	if err == nil || err.Error() != want {
		t.Fatalf("under min: got %v\nwant %s", err, want)
	}
	greedy := podWith("greedy", corev1.ResourceList{"cpu": resource.MustParse("60m")}, corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("2Gi")})
	_, err = cs.CoreV1().Pods("default").Create(ctx, greedy, metav1.CreateOptions{})
	want = `pods "greedy" is forbidden: cpu max limit to request ratio per Container is 10, but provided ratio is 16.666667`
	if err == nil || err.Error() != want {
		t.Fatalf("over the ratio: got %v\nwant %s", err, want)
	}
}
