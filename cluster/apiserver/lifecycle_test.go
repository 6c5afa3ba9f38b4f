package apiserver_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
)

func bind(t *testing.T, cs kubernetes.Interface, ns, name, node string) error {
	t.Helper()
	return cs.CoreV1().Pods(ns).Bind(context.Background(), &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
}

func TestDeletion(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	pods := cs.CoreV1().Pods("default")

	t.Run("UnscheduledPodGoesAtOnce", func(t *testing.T) {
		mustCreatePod(t, cs, "default", "u")
		if err := pods.Delete(ctx, "u", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "u", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("unscheduled pod still there: %v", err)
		}
	})

	t.Run("GracefulPodDeletion", func(t *testing.T) {
		mustCreatePod(t, cs, "default", "g")
		if err := bind(t, cs, "default", "g", "node-1"); err != nil {
			t.Fatal(err)
		}
		if err := bind(t, cs, "default", "g", "node-2"); !apierrors.IsConflict(err) || !contains(err.Error(), `already assigned to node "node-1"`) {
			t.Fatalf("second binding: %v", err)
		}
		if err := pods.Delete(ctx, "g", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err := pods.Get(ctx, "g", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("bound pod removed before its kubelet agreed: %v", err)
		}
		if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
			t.Fatalf("deletionTimestamp %v grace %v, want set and 30", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
		}
		zero := int64(0)
		if err := pods.Delete(ctx, "g", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Get(ctx, "g", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("pod still there after the kubelet's grace-0 delete: %v", err)
		}
	})

	t.Run("Finalizers", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fin", Finalizers: []string{"example.com/hold"}}}
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "fin", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "fin", metav1.GetOptions{})
		if err != nil || got.DeletionTimestamp == nil {
			t.Fatalf("object with finalizer: %v %v", err, got)
		}
		got.Finalizers = nil
		if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "fin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("removing the last finalizer did not delete: %v", err)
		}
	})

	t.Run("PropagationPolicies", func(t *testing.T) {
		rsets := cs.AppsV1().ReplicaSets("default")
		for _, tc := range []struct {
			policy    metav1.DeletionPropagation
			finalizer string
		}{{metav1.DeletePropagationForeground, "foregroundDeletion"}, {metav1.DeletePropagationOrphan, "orphan"}} {
			name := "rs-" + string(tc.policy)
			name = map[metav1.DeletionPropagation]string{"Foreground": "rs-fg", "Orphan": "rs-orphan"}[tc.policy]
			if _, err := rsets.Create(ctx, replicaSet(name, 1), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := tc.policy
			if err := rsets.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
				t.Fatal(err)
			}
			got, err := rsets.Get(ctx, name, metav1.GetOptions{})
			if err != nil || got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != tc.finalizer {
				t.Fatalf("%s: %v %+v", tc.policy, err, got.ObjectMeta)
			}
		}
		bg := metav1.DeletePropagationBackground
		if _, err := rsets.Create(ctx, replicaSet("rs-bg", 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := rsets.Delete(ctx, "rs-bg", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			t.Fatal(err)
		}
		if _, err := rsets.Get(ctx, "rs-bg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("background delete left the object: %v", err)
		}
	})

	t.Run("DeleteCollectionWithSelector", func(t *testing.T) {
		for _, n := range []string{"dc-1", "dc-2"} {
			if _, err := pods.Create(ctx, pod(n, map[string]string{"batch": "x"}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		mustCreatePod(t, cs, "default", "dc-keep")
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "batch=x"}); err != nil {
			t.Fatal(err)
		}
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "batch=x"})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("left %v %v", err, l)
		}
		if _, err := pods.Get(ctx, "dc-keep", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("NamespaceDeletion", func(t *testing.T) {
		nss := cs.CoreV1().Namespaces()
		if _, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tmp"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		mustCreatePod(t, cs, "tmp", "p1")
		if _, err := cs.CoreV1().ConfigMaps("tmp").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := nss.Delete(ctx, "tmp", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Pods("tmp").Create(ctx, pod("late", nil), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("create in terminating namespace: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := nss.Get(ctx, "tmp", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("namespace never went away: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if l, _ := cs.CoreV1().Pods("tmp").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
			t.Fatalf("pods left in deleted namespace: %d", len(l.Items))
		}
		if err := nss.Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("deleting default: %v", err)
		}
	})
}

func mustCreatePod(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod(name, map[string]string{"app": name}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func replicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
	}
}

func TestServicesAllocation(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	svcs := cs.CoreV1().Services("default")
	mk := func(name string, typ corev1.ServiceType, ip string, nodePort int32) (*corev1.Service, error) {
		return svcs.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: ip, Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}}},
		}, metav1.CreateOptions{})
	}
	a, err := mk("a", corev1.ServiceTypeClusterIP, "", 0)
	if err != nil || a.Spec.ClusterIP != "10.96.0.2" || a.Spec.ClusterIPs[0] != "10.96.0.2" {
		t.Fatalf("first allocated IP: %v %+v", err, a.Spec)
	}
	if _, err := mk("b", corev1.ServiceTypeClusterIP, "10.96.0.2", 0); !apierrors.IsInvalid(err) || !contains(err.Error(), "already allocated") {
		t.Fatalf("taken IP: %v", err)
	}
	if _, err := mk("c", corev1.ServiceTypeClusterIP, "10.0.0.9", 0); !apierrors.IsInvalid(err) || !contains(err.Error(), "not in the valid range") {
		t.Fatalf("IP outside the range: %v", err)
	}
	h, err := mk("headless", corev1.ServiceTypeClusterIP, "None", 0)
	if err != nil || h.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %v %+v", err, h.Spec)
	}
	np, err := mk("np", corev1.ServiceTypeNodePort, "", 0)
	if err != nil || np.Spec.Ports[0].NodePort < 30000 || np.Spec.Ports[0].NodePort > 32767 {
		t.Fatalf("node port: %v %+v", err, np.Spec)
	}
	if _, err := mk("np2", corev1.ServiceTypeNodePort, "", np.Spec.Ports[0].NodePort); !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate node port: %v", err)
	}
	// Deleting frees both; the freed IP and port can be asked for again.
	if err := svcs.Delete(ctx, "np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := mk("np3", corev1.ServiceTypeNodePort, np.Spec.ClusterIP, np.Spec.Ports[0].NodePort)
	if err != nil {
		t.Fatalf("reusing a released IP and port: %v", err)
	}
	// Allocations survive a restart: the same IP is still taken afterwards.
	srv.Restart(t)
	if _, err := mk("after", corev1.ServiceTypeClusterIP, again.Spec.ClusterIP, 0); !apierrors.IsInvalid(err) {
		t.Fatalf("IP reused after restart: %v", err)
	}
	// Changing the type to NodePort allocates a port; the cluster IP is kept.
	patched, err := svcs.Patch(ctx, "a", types.MergePatchType, []byte(`{"spec":{"type":"NodePort"}}`), metav1.PatchOptions{})
	if err != nil || patched.Spec.Ports[0].NodePort == 0 || patched.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Fatalf("type change: %v %+v", err, patched)
	}
}

func TestSubresourcesAndPatches(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	deps := cs.AppsV1().Deployments("default")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1"}}}}}}
	d, err := deps.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 1 {
		t.Fatalf("generation %d, want 1", d.Generation)
	}

	t.Run("StatusOnlyThroughStatus", func(t *testing.T) {
		cur, _ := deps.Get(ctx, "web", metav1.GetOptions{})
		cur.Status.Replicas = 7
		cur.Spec.Paused = true
		out, err := deps.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil || out.Status.Replicas != 7 || out.Spec.Paused {
			t.Fatalf("status update: %v status=%d paused=%v", err, out.Status.Replicas, out.Spec.Paused)
		}
		out.Status.Replicas = 1
		out2, err := deps.Update(ctx, out, metav1.UpdateOptions{})
		if err != nil || out2.Status.Replicas != 7 {
			t.Fatalf("main resource changed status: %v %d", err, out2.Status.Replicas)
		}
	})

	t.Run("StrategicMergeKeepsOtherContainers", func(t *testing.T) {
		patch := `{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}`
		out, err := deps.Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil || len(out.Spec.Template.Spec.Containers) != 2 || out.Generation != 2 {
			t.Fatalf("%v containers=%d generation=%d", err, len(out.Spec.Template.Spec.Containers), out.Generation)
		}
	})

	t.Run("JSONPatch", func(t *testing.T) {
		patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]`
		out, err := deps.Patch(ctx, "web", types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil || out.Spec.Template.Spec.Containers[0].Image != "nginx:2" {
			t.Fatalf("%v %+v", err, out)
		}
	})

	t.Run("ErrPatchUnknownField", func(t *testing.T) {
		before := revision(t, srv)
		_, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replica":3}}`), metav1.PatchOptions{})
		if !apierrors.IsBadRequest(err) || !contains(err.Error(), `unknown field "spec.replica"`, `did you mean "replicas"?`) {
			t.Fatalf("%v", err)
		}
		if revision(t, srv) != before {
			t.Fatal("bad patch wrote")
		}
	})

	t.Run("ServerSideApplyCreateOrUpdate", func(t *testing.T) {
		cfg := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"a":"1"}}`
		force := true
		out, err := cs.CoreV1().ConfigMaps("default").Patch(ctx, "ssa", types.ApplyPatchType, []byte(cfg), metav1.PatchOptions{FieldManager: "t", Force: &force})
		if err != nil || out.Data["a"] != "1" {
			t.Fatalf("apply-create: %v %+v", err, out)
		}
		cfg = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"b":"2"}}`
		out, err = cs.CoreV1().ConfigMaps("default").Patch(ctx, "ssa", types.ApplyPatchType, []byte(cfg), metav1.PatchOptions{FieldManager: "t", Force: &force})
		if err != nil || out.Data["b"] != "2" {
			t.Fatalf("apply-update: %v %+v", err, out)
		}
	})

	t.Run("Scale", func(t *testing.T) {
		sc, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
			t.Fatalf("get scale: %v %+v", err, sc)
		}
		sc.Spec.Replicas = 4
		if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("stale scale: %v", err)
		}
		out, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":-2}}`), metav1.PatchOptions{}, "scale")
		if !apierrors.IsInvalid(err) {
			t.Fatalf("negative scale: %v %v", err, out)
		}
		if _, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":6}}`), metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatal(err)
		}
		got, _ := deps.Get(ctx, "web", metav1.GetOptions{})
		if *got.Spec.Replicas != 6 {
			t.Fatalf("replicas %d, want 6", *got.Spec.Replicas)
		}
	})

	t.Run("GenerateName", func(t *testing.T) {
		p, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}}}}, metav1.CreateOptions{})
		if err != nil || len(p.Name) != len("web-")+5 {
			t.Fatalf("%v %q", err, p.Name)
		}
	})

	t.Run("DryRunWritesNothing", func(t *testing.T) {
		before := revision(t, srv)
		_, err := cs.CoreV1().Pods("default").Create(ctx, pod("dry", nil), metav1.CreateOptions{DryRun: []string{"All"}})
		if err != nil || revision(t, srv) != before {
			t.Fatalf("dry run: %v", err)
		}
	})

	t.Run("ListJSONHasKindAndRV", func(t *testing.T) {
		_, body := call(t, srv, "GET", "/apis/apps/v1/namespaces/default/deployments", "", nil)
		var l struct {
			Kind, APIVersion string
			Metadata         metav1.ListMeta
		}
		if err := json.Unmarshal(body, &l); err != nil || l.Kind != "DeploymentList" || l.APIVersion != "apps/v1" || l.Metadata.ResourceVersion == "" {
			t.Fatalf("%v %s", err, body)
		}
	})
}
