package endpoints

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"webkube/cluster/stepper"
	"webkube/internal/eventually"
)

func service(name string, sel map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"team": "a"}},
		Spec:       corev1.ServiceSpec{Selector: sel, Ports: ports, ClusterIP: "10.96.0.20"},
	}
}

func svcPort(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: target}
}

func pod(name, ip string, ready bool, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: lbls},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "echo", Ports: ports}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
		},
	}
}

var echo = map[string]string{"app": "echo"}

func ips(as []corev1.EndpointAddress) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP)
	}
	return out
}

func TestDesiredEndpoints(t *testing.T) {
	t.Run("ReadyAndNotReady", func(t *testing.T) {
		svc := service("echo", echo, svcPort("", 80, intstr.FromInt32(3000)))
		pods := []*corev1.Pod{
			pod("b", "10.244.0.12", true, echo),
			pod("a", "10.244.0.9", true, echo),
			pod("c", "10.244.0.5", false, echo),
			pod("noip", "", true, echo),
		}
		ep := desiredEndpoints(svc, pods)
		if len(ep.Subsets) != 1 {
			t.Fatalf("subsets = %d, want 1: %+v", len(ep.Subsets), ep.Subsets)
		}
		ss := ep.Subsets[0]
		if got := fmt.Sprint(ips(ss.Addresses)); got != "[10.244.0.9 10.244.0.12]" {
			t.Errorf("addresses = %s", got)
		}
		if got := fmt.Sprint(ips(ss.NotReadyAddresses)); got != "[10.244.0.5]" {
			t.Errorf("notReadyAddresses = %s", got)
		}
		if len(ss.Ports) != 1 || ss.Ports[0].Port != 3000 || ss.Ports[0].Protocol != corev1.ProtocolTCP {
			t.Errorf("ports = %+v", ss.Ports)
		}
		a := ss.Addresses[0]
		if a.TargetRef == nil || a.TargetRef.Kind != "Pod" || a.TargetRef.Name != "a" || a.NodeName == nil || *a.NodeName != "node-1" {
			t.Errorf("address refs = %+v", a)
		}
		if ep.Labels["team"] != "a" {
			t.Errorf("labels not copied from service: %v", ep.Labels)
		}
	})
	t.Run("NamedTargetPortPerPod", func(t *testing.T) {
		svc := service("web", echo, svcPort("http", 80, intstr.FromString("web")))
		pods := []*corev1.Pod{
			pod("v1", "10.244.0.2", true, echo, corev1.ContainerPort{Name: "web", ContainerPort: 3000}),
			pod("v2", "10.244.0.3", true, echo, corev1.ContainerPort{Name: "web", ContainerPort: 8080}),
			pod("other", "10.244.0.4", true, echo, corev1.ContainerPort{Name: "metrics", ContainerPort: 9090}),
		}
		ep := desiredEndpoints(svc, pods)
		if len(ep.Subsets) != 2 {
			t.Fatalf("want a subset per port number, got %+v", ep.Subsets)
		}
		got := map[int32]string{}
		for _, ss := range ep.Subsets {
			got[ss.Ports[0].Port] = fmt.Sprint(ips(ss.Addresses))
			if ss.Ports[0].Name != "http" {
				t.Errorf("port name = %q", ss.Ports[0].Name)
			}
		}
		if got[3000] != "[10.244.0.2]" || got[8080] != "[10.244.0.3]" {
			t.Errorf("named port resolution = %v", got)
		}
		slices := desiredSlices(svc, pods)
		if len(slices) != 2 {
			t.Fatalf("want a slice per port set, got %d", len(slices))
		}
		if slices[0].Name == slices[1].Name {
			t.Errorf("slice names collide: %s", slices[0].Name)
		}
	})
	t.Run("TerminatingAndFinished", func(t *testing.T) {
		svc := service("echo", echo, svcPort("", 80, intstr.FromInt32(3000)))
		term := pod("term", "10.244.0.7", true, echo)
		now := metav1.Now()
		term.DeletionTimestamp = &now
		done := pod("done", "10.244.0.8", false, echo)
		done.Status.Phase = corev1.PodSucceeded
		pods := []*corev1.Pod{term, done, pod("live", "10.244.0.6", true, echo)}
		ep := desiredEndpoints(svc, pods)
		if got := fmt.Sprint(ips(ep.Subsets[0].Addresses), ips(ep.Subsets[0].NotReadyAddresses)); got != "[10.244.0.6] []" {
			t.Errorf("endpoints = %s, want only the live pod", got)
		}
		s := desiredSlices(svc, pods)[0]
		if len(s.Endpoints) != 2 {
			t.Fatalf("slice endpoints = %+v", s.Endpoints)
		}
		te := s.Endpoints[1] // sorted by IP: .6 then .7
		if te.Addresses[0] != "10.244.0.7" || *te.Conditions.Ready || !*te.Conditions.Serving || !*te.Conditions.Terminating {
			t.Errorf("terminating endpoint conditions = %+v %+v", te.Addresses, te.Conditions)
		}
		if s.Labels[discoveryv1.LabelServiceName] != "echo" || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			t.Errorf("slice labels = %v", s.Labels)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Service" || s.OwnerReferences[0].UID != "uid-echo" {
			t.Errorf("slice owner = %+v", s.OwnerReferences)
		}
	})
	t.Run("PublishNotReady", func(t *testing.T) {
		svc := service("db", echo, svcPort("", 5432, intstr.FromInt32(5432)))
		svc.Spec.PublishNotReadyAddresses = true
		ep := desiredEndpoints(svc, []*corev1.Pod{pod("a", "10.244.0.2", false, echo)})
		if len(ep.Subsets[0].Addresses) != 1 {
			t.Errorf("publishNotReadyAddresses should list unready pods as ready: %+v", ep.Subsets)
		}
	})
	t.Run("HeadlessWithoutPorts", func(t *testing.T) {
		svc := service("db", echo)
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		ep := desiredEndpoints(svc, []*corev1.Pod{pod("a", "10.244.0.2", true, echo)})
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || len(ep.Subsets[0].Ports) != 0 {
			t.Errorf("headless endpoints = %+v", ep.Subsets)
		}
		if _, ok := ep.Labels[headlessLabel]; !ok {
			t.Errorf("missing headless label: %v", ep.Labels)
		}
	})
	t.Run("ManyPodsSplitSlices", func(t *testing.T) {
		svc := service("big", echo, svcPort("", 80, intstr.FromInt32(80)))
		var pods []*corev1.Pod
		for i := range 250 {
			pods = append(pods, pod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), true, echo))
		}
		if ep := desiredEndpoints(svc, pods); len(ep.Subsets[0].Addresses) != 250 || ep.Annotations != nil {
			t.Errorf("250 pods: %d addresses, annotations %v", len(ep.Subsets[0].Addresses), ep.Annotations)
		}
		slices := desiredSlices(svc, pods)
		if len(slices) != 3 || len(slices[2].Endpoints) != 50 {
			t.Errorf("slices = %d (last %d endpoints), want 3 with 100/100/50", len(slices), len(slices[len(slices)-1].Endpoints))
		}
	})
	t.Run("TruncatedAt1000", func(t *testing.T) {
		svc := service("huge", echo, svcPort("", 80, intstr.FromInt32(80)))
		var pods []*corev1.Pod
		for i := range 1100 {
			pods = append(pods, pod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.245.%d.%d", i/200, i%200+1), i%2 == 0, echo))
		}
		ep := desiredEndpoints(svc, pods)
		ss := ep.Subsets[0]
		if len(ss.Addresses) != 550 || len(ss.NotReadyAddresses) != 450 || ep.Annotations[overCapacityAnnotation] != "truncated" {
			t.Errorf("1100 pods: %d ready, %d not ready, annotations %v; want 550, 450, truncated", len(ss.Addresses), len(ss.NotReadyAddresses), ep.Annotations)
		}
	})
	t.Run("NoPodsPlaceholderSlice", func(t *testing.T) {
		svc := service("empty", echo, svcPort("", 80, intstr.FromInt32(80)))
		if ep := desiredEndpoints(svc, nil); ep.Subsets != nil {
			t.Errorf("subsets = %+v", ep.Subsets)
		}
		if s := desiredSlices(svc, nil); len(s) != 1 || len(s[0].Endpoints) != 0 {
			t.Errorf("want one empty slice, got %+v", s)
		}
	})
}

// startController runs a Controller against a fake clientset preloaded with objs.
func startController(t *testing.T, objs ...runtime.Object) (kubernetes.Interface, context.Context) {
	return startControllerWith(t, Config{}, objs...)
}

func startControllerWith(t *testing.T, cfg Config, objs ...runtime.Object) (kubernetes.Interface, context.Context) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg.Client = cs
	c, err := NewController(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return cs, ctx
}

func endpointIPs(ctx context.Context, cs kubernetes.Interface, name string) (string, error) {
	ep, err := cs.CoreV1().Endpoints("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	var ready, notReady []string
	for _, ss := range ep.Subsets {
		ready = append(ready, ips(ss.Addresses)...)
		notReady = append(notReady, ips(ss.NotReadyAddresses)...)
	}
	return fmt.Sprint(ready, notReady), nil
}

func TestControllerFollowsChanges(t *testing.T) {
	cs, ctx := startController(t,
		service("echo", echo, svcPort("", 80, intstr.FromInt32(3000))),
		pod("a", "10.244.0.2", true, echo),
		pod("b", "10.244.0.3", false, echo),
		pod("stranger", "10.244.0.4", true, map[string]string{"app": "other"}),
	)
	want := func(what, expect string) {
		t.Helper()
		eventually.That(t, 5*time.Second, what, func() (bool, string) {
			got, err := endpointIPs(ctx, cs, "echo")
			if err != nil {
				return false, err.Error()
			}
			return got == expect, got
		})
	}
	want("initial endpoints", "[10.244.0.2] [10.244.0.3]")
	eventually.That(t, 5*time.Second, "slice created", func() (bool, string) {
		l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err != nil || len(l.Items) != 1 {
			return false, fmt.Sprint(err, l)
		}
		return len(l.Items[0].Endpoints) == 2, fmt.Sprint(l.Items[0].Endpoints)
	})

	// b turns ready.
	b, _ := cs.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{})
	b.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want("b ready", "[10.244.0.2 10.244.0.3] []")

	// a loses its label: it leaves.
	a, _ := cs.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	a.Labels = map[string]string{"app": "gone"}
	if _, err := cs.CoreV1().Pods("default").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want("a relabelled away", "[10.244.0.3] []")

	// The selector changes to pick the stranger instead.
	svc, _ := cs.CoreV1().Services("default").Get(ctx, "echo", metav1.GetOptions{})
	svc.Spec.Selector = map[string]string{"app": "other"}
	if _, err := cs.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want("selector changed", "[10.244.0.4] []")

	// A pod deleted leaves.
	if err := cs.CoreV1().Pods("default").Delete(ctx, "stranger", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want("pod deleted", "[] []")

	// The Service deleted: its Endpoints and slices go.
	if err := cs.CoreV1().Services("default").Delete(ctx, "echo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 5*time.Second, "endpoints deleted", func() (bool, string) {
		_, err := cs.CoreV1().Endpoints("default").Get(ctx, "echo", metav1.GetOptions{})
		l, _ := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err) && len(l.Items) == 0, fmt.Sprint(err, len(l.Items))
	})
}

func TestControllerLeavesSelectorlessServices(t *testing.T) {
	manual := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Name: "https", Port: 6443}}}},
	}
	cs, ctx := startController(t,
		service("kubernetes", nil, svcPort("https", 443, intstr.FromInt32(6443))),
		manual,
		service("echo", echo, svcPort("", 80, intstr.FromInt32(3000))),
		pod("a", "10.244.0.2", true, echo),
	)
	// Once echo is done the controller has processed both Services.
	eventually.That(t, 5*time.Second, "echo endpoints", func() (bool, string) {
		got, err := endpointIPs(ctx, cs, "echo")
		return err == nil && got == "[10.244.0.2] []", fmt.Sprint(got, err)
	})
	got, err := endpointIPs(ctx, cs, "kubernetes")
	if err != nil || got != "[127.0.0.1] []" {
		t.Errorf("kubernetes endpoints changed: %s %v", got, err)
	}
	l, _ := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if len(l.Items) != 0 {
		t.Errorf("slices made for a selectorless service: %+v", l.Items)
	}
}

func TestControllerPointsKubernetesAtAPIServer(t *testing.T) {
	cs, ctx := startControllerWith(t, Config{KubernetesEndpoint: "192.0.2.10:6443"},
		service("kubernetes", nil, svcPort("https", 443, intstr.FromInt32(443))),
	)
	eventually.That(t, 5*time.Second, "kubernetes endpoints", func() (bool, string) {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got := fmt.Sprintf("%v %s %d", ips(ep.Subsets[0].Addresses), ep.Subsets[0].Ports[0].Name, ep.Subsets[0].Ports[0].Port)
		return got == "[192.0.2.10] https 6443", got
	})
	eventually.That(t, 5*time.Second, "kubernetes slice", func() (bool, string) {
		s, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(s.Endpoints) == 1 && s.Endpoints[0].Addresses[0] == "192.0.2.10", fmt.Sprint(s.Endpoints)
	})
	if _, err := NewController(Config{Client: cs, KubernetesEndpoint: "localhost"}); err == nil {
		t.Error("a KubernetesEndpoint without a port was accepted")
	}
}

func TestStepModeHoldsWrites(t *testing.T) {
	gate := stepper.New()
	gate.SetStepMode(true)
	cs, ctx := startControllerWith(t, Config{Gate: gate},
		service("echo", echo, svcPort("", 80, intstr.FromInt32(3000))),
		pod("a", "10.244.0.2", true, echo),
	)
	eventually.That(t, 5*time.Second, "a step waiting", func() (bool, string) {
		w := gate.Waiting()
		return len(w) == 1 && w[0].Component == Component && w[0].Action == "create-endpoints" && w[0].Name == "echo", fmt.Sprint(w)
	})
	if _, err := cs.CoreV1().Endpoints("default").Get(ctx, "echo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("endpoints written while held: %v", err)
	}
	if msg := gate.Waiting()[0].Message; msg != "endpoints of service default/echo: 1 ready, 0 not ready" {
		t.Errorf("step message = %q", msg)
	}
	gate.SetStepMode(false)
	eventually.That(t, 5*time.Second, "endpoints after release", func() (bool, string) {
		got, err := endpointIPs(ctx, cs, "echo")
		return err == nil && got == "[10.244.0.2] []", fmt.Sprint(got, err)
	})
}
