package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/resourcequota"
	"webkube/internal/eventually"
)

// startQuotaController runs the resourcequota controller against srv, as the
// controller manager does.
func startQuotaController(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := resourcequota.New(resourcequota.Config{Client: cs, Informers: informers.NewSharedInformerFactory(cs, 0), Resync: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

func makeQuota(t *testing.T, cs kubernetes.Interface, name string, hard corev1.ResourceList) {
	t.Helper()
	ctx := context.Background()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := cs.CoreV1().ResourceQuotas("default").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the controller fills in the quota's status", func() (bool, string) {
		q, err := cs.CoreV1().ResourceQuotas("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && len(q.Status.Used) == len(hard), fmt.Sprint(q.Status, err)
	})
}

func podWith(name string, requests, limits corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "busybox", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}}}
}

// The learner's report: three pods were admitted past `pods: "2"`. Now the third is
// refused with kube-apiserver's words, and kubectl shows the quota as a cluster does.
func TestQuotaRefusesThePodPastPods(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	startQuotaController(t, cs)
	k := newKubectl(t, srv)
	k.ok(args("create quota q --hard=pods=2,count/configmaps=1"), "resourcequota/q created")
	eventually.That(t, 10*time.Second, "the quota's status is counted", func() (bool, string) {
		out, _ := k.run(args("get quota q")...)
		return strings.Contains(out, "count/configmaps: 0/1, pods: 0/2"), out
	})
	k.ok(args("run one --image=busybox"), "pod/one created")
	k.ok(args("run two --image=busybox"), "pod/two created")
	k.fail(args("run three --image=busybox"),
		`Error from server (Forbidden): pods "three" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`)
	k.ok(args("get quota"), "NAME", "AGE", "REQUEST", "LIMIT", "q", "count/configmaps: 0/1, pods: 2/2")
	k.ok(args("describe quota q"), "Resource", "Used", "Hard", "pods", "2")
	// kube-root-ca.crt is not there (no serviceaccount controller): one ConfigMap fits.
	k.ok(args("create configmap a"), "configmap/a created")
	k.fail(args("create configmap b"), "exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1")

	// A pod that goes gives its place back.
	k.ok(args("delete pod one --wait=false"))
	eventually.That(t, 10*time.Second, "a deleted pod's place is free again", func() (bool, string) {
		out, ok := k.run(args("run three --image=busybox")...)
		return ok, out
	})
}

// Quota on compute: pods must state what the quota limits, and the sum stays within it.
func TestQuotaComputeRequests(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	startQuotaController(t, cs)
	makeQuota(t, cs, "compute", corev1.ResourceList{"requests.cpu": resource.MustParse("1"), "limits.memory": resource.MustParse("1Gi")})

	_, err := cs.CoreV1().Pods("default").Create(ctx, podWith("bare", nil, nil), metav1.CreateOptions{})
	want := `pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app`
	if err == nil || err.Error() != want {
		t.Fatalf("pod without requests: got %v, want %s", err, want)
	}
	sized := func(name string) *corev1.Pod {
		return podWith(name, corev1.ResourceList{"cpu": resource.MustParse("600m")}, corev1.ResourceList{"memory": resource.MustParse("256Mi")})
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, sized("a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Pods("default").Create(ctx, sized("b"), metav1.CreateOptions{})
	want = `pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1`
	if err == nil || err.Error() != want {
		t.Fatalf("second pod: got %v, want %s", err, want)
	}
	q, err := cs.CoreV1().ResourceQuotas("default").Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cpu, mem := q.Status.Used["requests.cpu"], q.Status.Used["limits.memory"]; cpu.String() != "600m" || mem.String() != "256Mi" {
		t.Fatalf("used after one pod: %v", q.Status.Used)
	}
}

// Two creates at once that each fit alone but not together: exactly one passes.
func TestQuotaConcurrentCreates(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	startQuotaController(t, cs)
	makeQuota(t, cs, "q", corev1.ResourceList{"pods": resource.MustParse("3")})
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = cs.CoreV1().Pods("default").Create(ctx, podWith(fmt.Sprintf("p%d", i), nil, nil), metav1.CreateOptions{})
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !strings.Contains(err.Error(), "exceeded quota: q, requested: pods=1"):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created != 3 || len(pods.Items) != 3 {
		t.Fatalf("%d creates at once under pods=3: %d passed, %d pods stored", n, created, len(pods.Items))
	}
}

// The editor's example: its LimitRange gives pods that state nothing the requests its
// quota needs, and the quota counts pods, their requests and Deployments.
func TestQuotaExampleWithLimitRange(t *testing.T) {
	srv := apiservertest.Start(t)
	startQuotaController(t, srv.Clientset())
	k := newKubectl(t, srv)
	k.ok(args("apply -f ../../../web/examples/quota-limits.yml"), "resourcequota/small created", "limitrange/defaults created")
	eventually.That(t, 10*time.Second, "the quota's status is counted", func() (bool, string) {
		out, _ := k.run(args("get quota small")...)
		return strings.Contains(out, "pods: 0/2"), out
	})
	k.ok(args("run a --image=busybox"), "pod/a created")
	k.ok(args("run b --image=busybox"), "pod/b created")
	// Admission charged each pod to the status as it admitted it. The controller's recount
	// (every second here) may come from an informer that has not seen pod b yet and write
	// pods: 1/2 for a moment, as kube's can; its next recount counts b.
	eventually.That(t, 10*time.Second, "the quota counts both pods", func() (bool, string) {
		out, _ := k.run(args("get quota small")...)
		return strings.Contains(out, "count/deployments.apps: 0/2, pods: 2/2, requests.cpu: 200m/1, requests.memory: 128Mi/512Mi"), out
	})
	k.fail(args("run c --image=busybox"), `pods "c" is forbidden: exceeded quota: small, requested: pods=1, used: pods=2, limited: pods=2`)
	k.ok(args("create deployment d1 --image=busybox --replicas=0"), "deployment.apps/d1 created")
	k.ok(args("create deployment d2 --image=busybox --replicas=0"), "deployment.apps/d2 created")
	k.fail(args("create deployment d3 --image=busybox --replicas=0"),
		`deployments.apps "d3" is forbidden: exceeded quota: small, requested: count/deployments.apps=1, used: count/deployments.apps=2, limited: count/deployments.apps=2`)
}

// An update is charged for what it adds, as kube-apiserver's quota admission: a Service
// turned NodePort past services.nodeports and a claim grown past requests.storage are
// refused and left as they were; once the quota has room the same change passes and is
// charged at once.
func TestQuotaChargedOnUpdate(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	startQuotaController(t, cs)
	makeQuota(t, cs, "q", corev1.ResourceList{"services.nodeports": resource.MustParse("1"), "requests.storage": resource.MustParse("2Gi")})
	svc := func(name string, typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Type: typ,
			Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	for _, s := range []*corev1.Service{svc("a", corev1.ServiceTypeClusterIP), svc("b", corev1.ServiceTypeNodePort)} {
		if _, err := cs.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	toNodePort := []byte(`{"spec":{"type":"NodePort"}}`)
	_, err := cs.CoreV1().Services("default").Patch(ctx, "a", types.StrategicMergePatchType, toNodePort, metav1.PatchOptions{})
	want := `services "a" is forbidden: exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1`
	if err == nil || err.Error() != want {
		t.Fatalf("Service a turned NodePort past the quota: got %v, want %s", err, want)
	}
	if a, _ := cs.CoreV1().Services("default").Get(ctx, "a", metav1.GetOptions{}); a.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Fatalf("the refused update changed a: type %s", a.Spec.Type)
	}

	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}}}}
	claim, err = cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Only a bound claim may grow; no volume controller runs here, so say it is bound.
	claim.Status.Phase = corev1.ClaimBound
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	grow := []byte(`{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}`)
	_, err = cs.CoreV1().PersistentVolumeClaims("default").Patch(ctx, "data", types.StrategicMergePatchType, grow, metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), `persistentvolumeclaims "data" is forbidden: exceeded quota: q, requested: requests.storage=2Gi, used: requests.storage=1Gi, limited: requests.storage=2Gi`) {
		t.Fatalf("claim grown past the quota: got %v", err)
	}

	if err := cs.CoreV1().Services("default").Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "b's node port given back and a's change admitted", func() (bool, string) {
		_, err := cs.CoreV1().Services("default").Patch(ctx, "a", types.StrategicMergePatchType, toNodePort, metav1.PatchOptions{})
		return err == nil, fmt.Sprint(err)
	})
	q, err := cs.CoreV1().ResourceQuotas("default").Get(ctx, "q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := q.Status.Used["services.nodeports"]; used.Value() != 1 {
		t.Fatalf("services.nodeports used after the update: %s, want 1", used.String())
	}
}
