package printers_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
)

const kubectlPath = "/usr/bin/kubectl"

// kubectlGet runs the real kubectl against srv and returns its output split into rows of
// whitespace-separated fields (header first).
func kubectlGet(t *testing.T, srv *apiservertest.Server, cache string, args ...string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", srv.KubeconfigPath, "--cache-dir", cache, "get"}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, args...)
	cmd.Env = append(os.Environ(), "HOME="+cache)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// expectRows compares rows field by field; a want ending in "*" matches by prefix ("*"
// alone matches anything: ages).
func expectRows(t *testing.T, what string, got [][]string, want ...[]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d: %q", what, len(got), len(want), got)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Errorf("%s row %d: %q, want %q", what, i, got[i], want[i])
			continue
		}
		for j := range want[i] {
			w := want[i][j]
			prefix, isPrefix := strings.CutSuffix(w, "*")
			if isPrefix && strings.HasPrefix(got[i][j], prefix) || got[i][j] == w {
				continue
			}
			t.Errorf("%s row %d: %q, want %q", what, i, got[i], want[i])
			break
		}
	}
}

func row(s string) []string { return strings.Fields(s) }

// TestKubectlGetTables drives the real kubectl v1.32 against webkube's API server and
// checks that it prints the columns and cells a real cluster prints.
func TestKubectlGetTables(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Fatalf("this test needs the real kubectl v1.32 at %s (install the kubectl package from pkgs.k8s.io): %v", kubectlPath, err)
	}
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	cache := t.TempDir()
	ctx := context.Background()

	mustCreatePod(t, cs, "echo", corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, RestartCount: 2,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(time.Now().Add(-3 * time.Minute))}}}}})
	mustCreatePod(t, cs, "crash", corev1.PodStatus{Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}})
	mustCreatePod(t, cs, "pending", corev1.PodStatus{})

	expectRows(t, "get pods", kubectlGet(t, srv, cache, "pods"),
		row("NAME READY STATUS RESTARTS AGE"),
		row("crash 0/1 CrashLoopBackOff 0 *"),
		row("echo 1/1 Running 2 (3m* ago) *"),
		row("pending 0/1 Pending 0 *"),
	)
	expectRows(t, "get pods -o wide", kubectlGet(t, srv, cache, "pods", "-o", "wide", "--field-selector", "metadata.name=echo"),
		row("NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"),
		row("echo 1/1 Running 2 (3m* ago) * 10.244.0.5 <none> <none> <none>"),
	)

	replicas := int32(3)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/subicura/echo:v1"}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "echo-deploy"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo-rs"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRows(t, "get deploy -o wide", kubectlGet(t, srv, cache, "deploy", "-o", "wide"),
		row("NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"),
		row("echo-deploy 0/3 0 0 * app ghcr.io/subicura/echo:v1 app=echo"),
	)
	expectRows(t, "get rs", kubectlGet(t, srv, cache, "rs", "echo-rs"),
		row("NAME DESIRED CURRENT READY AGE"),
		row("echo-rs 3 * * *"),
	)

	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := kubectlGet(t, srv, cache, "svc", "echo", "-o", "wide")
	expectRows(t, "get svc -o wide", svc,
		row("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"),
		row("echo NodePort * <none> 80:30080/TCP * app=echo"),
	)
	if len(svc) == 2 && !strings.Contains(svc[1][2], ".") {
		t.Errorf("service got no cluster IP: %q", svc[1])
	}

	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"a": "1", "b": "2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRows(t, "get cm", kubectlGet(t, srv, cache, "cm", "cfg"), row("NAME DATA AGE"), row("cfg 2 *"))

	if _, err := cs.CoreV1().Events("default").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "echo.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "echo", Namespace: "default"}, Type: "Warning", Reason: "BackOff",
		Message: "Back-off restarting failed container", LastTimestamp: metav1.Now(), FirstTimestamp: metav1.Now(), Count: 4}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRows(t, "get events", kubectlGet(t, srv, cache, "events"),
		row("LAST SEEN TYPE REASON OBJECT MESSAGE"),
		row("* Warning BackOff pod/echo Back-off restarting failed container"),
	)

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "webkube", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}
	node, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.17.0.2"}},
		NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.32.3", OSImage: "Debian", KernelVersion: "6.1.0", ContainerRuntimeVersion: "containerd://1.6.20"}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectRows(t, "get nodes -o wide", kubectlGet(t, srv, cache, "nodes", "-o", "wide"),
		row("NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME"),
		row("webkube Ready control-plane * v1.32.3 172.17.0.2 <none> Debian 6.1.0 containerd://1.6.20"),
	)
	expectRows(t, "get ns", kubectlGet(t, srv, cache, "ns", "default"), row("NAME STATUS AGE"), row("default Active *"))
}

func mustCreatePod(t *testing.T, cs kubernetes.Interface, name string, status corev1.PodStatus) {
	t.Helper()
	ctx := context.Background()
	pod, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/subicura/echo:v1"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status.Phase == "" {
		return
	}
	pod.Status = status
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
