package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func pod(ns, name, app string, running bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}
	return p
}

func echoService() (*corev1.Service, *corev1.Endpoints) {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}}}}
	ep := &corev1.Endpoints{ObjectMeta: s.ObjectMeta, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{
			{IP: "10.244.0.5", TargetRef: &corev1.ObjectReference{Name: "echo-b"}},
			{IP: "10.244.0.4", TargetRef: &corev1.ObjectReference{Name: "echo-a"}},
			{IP: "10.244.0.6", TargetRef: &corev1.ObjectReference{Name: "echo-c"}}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.0.9", TargetRef: &corev1.ObjectReference{Name: "echo-d"}}},
		Ports:             []corev1.EndpointPort{{Port: 3000, Protocol: corev1.ProtocolTCP}}}}}
	return s, ep
}

// A fake proxy: each request the fake exec "sends" goes round robin to the ready
// endpoints, and the counters show it only a little later (as iptables-save's do).
type fakeProxy struct {
	mu     sync.Mutex
	counts map[string]uint64
	shown  map[string]uint64
	ran    []string
}

func (f *fakeProxy) exec(_ context.Context, ns, pod, container string, cmd []string, out io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, fmt.Sprintf("%s/%s/%s %s", ns, pod, container, strings.Join(cmd, " ")))
	var n int
	fmt.Sscanf(cmd[2][strings.Index(cmd[2], "-lt ")+4:], "%d", &n)
	addrs := []string{"10.244.0.4:3000", "10.244.0.5:3000", "10.244.0.6:3000"}
	for i := range n {
		f.counts[addrs[i%3]]++
		fmt.Fprintln(out, "ok")
	}
	return nil
}

func (f *fakeProxy) count(string, string) map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.shown
	f.shown = map[string]uint64{}
	for k, v := range f.counts {
		f.shown[k] = v
	}
	return out
}

func TestSendCountsPerReadyPod(t *testing.T) {
	s, ep := echoService()
	f := &fakeProxy{counts: map[string]uint64{"10.244.0.4:3000": 7}, shown: map[string]uint64{"10.244.0.4:3000": 7}}
	clk := clocktesting.NewFakeClock(time.Now())
	snd := Sender{Exec: f.exec, Count: f.count, Clock: clk}
	pods := []*corev1.Pod{pod("default", "echo-a", "echo", true), pod("other", "tool", "x", true),
		pod("default", "client", "x", true), pod("default", "aaa-pending", "x", false)}
	done := make(chan struct{})
	go func() { // advance the fake clock while Send polls the counters
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				clk.Step(100 * time.Millisecond)
			}
		}
	}()
	r, err := snd.Send(context.Background(), s, ep, pods, 10)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if r.From != "default/client" || r.Backend || r.OK != 10 || r.URL != "http://10.96.0.20:80/" {
		t.Errorf("result %+v", r)
	}
	if len(f.ran) != 1 || !strings.HasPrefix(f.ran[0], "default/client/c sh -c ") || !strings.Contains(f.ran[0], "-lt 10") {
		t.Errorf("exec %q", f.ran)
	}
	var got []string
	for _, p := range r.Pods {
		got = append(got, fmt.Sprintf("%s=%d", p.Pod, p.N))
	}
	if strings.Join(got, " ") != "echo-a=4 echo-b=3 echo-c=3" || r.Counted != 10 {
		t.Errorf("per pod %v, counted %d", got, r.Counted)
	}

	// Only the Service's own pods run: one of them sends, and says so.
	if c, backend := pickClient(s, []*corev1.Pod{pod("default", "echo-a", "echo", true)}); c == nil || !backend {
		t.Errorf("backend as the only client: %v %v", c, backend)
	}
	if _, err := snd.Send(context.Background(), s, ep, []*corev1.Pod{pod("default", "p", "x", false)}, 3); !errors.Is(err, ErrNoClient) {
		t.Errorf("no running pod: %v", err)
	}
	if _, err := snd.Send(context.Background(), s, ep, pods, 0); !errors.Is(err, ErrCount) {
		t.Errorf("0 requests: %v", err)
	}
}

// kubernetes and kube-dns are said to be what they are; NodePorts become links.
func TestKinds(t *testing.T) {
	s, ep := echoService()
	v := Of(s, ep, "127.0.0.1")
	if v.Kind != KindPods || !v.CanSend || len(v.NodePorts) != 1 || v.NodePorts[0].URL != "http://127.0.0.1:30080/" {
		t.Errorf("echo: %+v", v)
	}
	k8s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Port: 443}}}}
	kep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}},
		Ports: []corev1.EndpointPort{{Port: 6443}}}}}
	if v := Of(k8s, kep, ""); v.Kind != KindAPIServer || v.Endpoint != "10.0.0.1:6443" || v.CanSend {
		t.Errorf("kubernetes: %+v", v)
	}
	dns := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns",
		Labels: map[string]string{ProxyNameLabel: "webkube-dns"}}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	if v := Of(dns, nil, ""); v.Kind != KindDNS || v.CanSend {
		t.Errorf("kube-dns: %+v", v)
	}
}
