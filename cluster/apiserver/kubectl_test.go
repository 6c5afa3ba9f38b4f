package apiserver_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

const kubectlPath = "/usr/bin/kubectl"

type kubectl struct {
	t        *testing.T
	srv      *apiservertest.Server
	cacheDir string
}

func newKubectl(t *testing.T, srv *apiservertest.Server) *kubectl {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Fatalf("this test needs the real kubectl v1.32 at %s (Debian: install the kubectl package from pkgs.k8s.io): %v", kubectlPath, err)
	}
	return &kubectl{t: t, srv: srv, cacheDir: t.TempDir()}
}

func (k *kubectl) cmd(ctx context.Context, args ...string) *exec.Cmd {
	args = append([]string{"--kubeconfig", k.srv.KubeconfigPath, "--cache-dir", k.cacheDir}, args...)
	c := exec.CommandContext(ctx, kubectlPath, args...)
	c.Dir = "testdata"
	c.Env = append(os.Environ(), "HOME="+k.cacheDir)
	return c
}

// run runs kubectl and returns combined output and whether it succeeded.
func (k *kubectl) run(args ...string) (string, bool) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := k.cmd(ctx, args...).CombinedOutput()
	return string(out), err == nil
}

// ok runs kubectl, requires success and that the output contains every want.
func (k *kubectl) ok(args []string, want ...string) string {
	k.t.Helper()
	out, ok := k.run(args...)
	if !ok {
		k.t.Fatalf("kubectl %s failed:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			k.t.Fatalf("kubectl %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

// fail runs kubectl, requires failure and that the output contains every want.
func (k *kubectl) fail(args []string, want ...string) string {
	k.t.Helper()
	out, ok := k.run(args...)
	if ok {
		k.t.Fatalf("kubectl %s succeeded, want failure:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			k.t.Fatalf("kubectl %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

func args(s string) []string { return strings.Fields(s) }

// The learner's path through the seed, with the real kubectl.
func TestKubectlScenario(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	// The seed's echo-pod.yml verbatim (apiVerison) fails and creates nothing.
	before := revision(t, srv)
	k.fail(args("apply -f echo-pod-seed.yml"), "apiVersion not set")
	if revision(t, srv) != before {
		t.Fatal("applying the broken seed wrote something")
	}

	k.ok(args("apply -f echo-pod.yml -f objects.yml"),
		"pod/echo created", "replicaset.apps/echo-rs created", "deployment.apps/echo-deploy created", "service/echo-svc created")
	k.ok(args("apply -f echo-pod.yml -f objects.yml"),
		"pod/echo unchanged", "replicaset.apps/echo-rs unchanged", "deployment.apps/echo-deploy unchanged", "service/echo-svc unchanged")

	// A changed manifest goes out as a strategic merge patch.
	k.ok(args("apply -f echo-pod-v2.yml"), "pod/echo configured")
	p, err := cs.CoreV1().Pods("default").Get(ctx, "echo", metav1.GetOptions{})
	if err != nil || p.Labels["version"] != "v2" || p.Spec.Containers[0].Image != "ghcr.io/subicura/echo:v2" ||
		p.Spec.Containers[0].ImagePullPolicy == "" {
		t.Fatalf("after apply v2: %v labels=%v containers=%+v", err, p.Labels, p.Spec.Containers)
	}
	k.ok(args("apply -f echo-pod.yml"), "pod/echo configured")
	if p, _ = cs.CoreV1().Pods("default").Get(ctx, "echo", metav1.GetOptions{}); p.Labels["version"] != "" {
		t.Fatalf("label removed from the manifest is still there: %v", p.Labels)
	}

	// Table columns as a real cluster prints them.
	k.ok(args("get pods"), "NAME", "READY", "STATUS", "RESTARTS", "AGE", "echo", "0/1", "Pending")
	k.ok(args("get pods -o wide"), "IP", "NODE", "NOMINATED NODE")
	k.ok(args("get rs"), "DESIRED", "CURRENT", "READY", "echo-rs")
	k.ok(args("get deploy"), "READY", "UP-TO-DATE", "AVAILABLE", "echo-deploy", "0/3")
	svcOut := k.ok(args("get svc"), "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "NodePort", "kubernetes", "10.96.0.1")
	if !strings.Contains(svcOut, "3000:3") {
		t.Fatalf("service lacks an allocated node port:\n%s", svcOut)
	}
	k.ok(args("get all"), "pod/echo", "service/echo-svc", "deployment.apps/echo-deploy", "replicaset.apps/echo-rs")
	k.ok(args("get pods -A"), "NAMESPACE", "default")
	k.ok(args("get pod echo -o yaml"), "apiVersion: v1", "kind: Pod", "resourceVersion:", "uid:", "restartPolicy: Always",
		"kubectl.kubernetes.io/last-applied-configuration")
	k.ok(args("get pods --show-labels"), "LABELS", "app=echo")

	k.ok(args("label pod echo tier=web"), "pod/echo labeled")
	k.ok(args("get pod echo --show-labels"), "app=echo,tier=web")
	k.ok(args("label pod echo app-"), "pod/echo unlabeled")
	if out := k.ok(args("get pod echo --show-labels"), "tier=web"); strings.Contains(out, "app=echo") {
		t.Fatalf("label app- left app=echo:\n%s", out)
	}

	k.ok(args("scale deployment echo-deploy --replicas=5"), "deployment.apps/echo-deploy scaled")
	k.ok(args("scale rs echo-rs --replicas=1"), "replicaset.apps/echo-rs scaled")
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "echo-deploy", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 5 || d.Generation != 2 {
		t.Fatalf("after scale: %v replicas=%v generation=%d", err, d.Spec.Replicas, d.Generation)
	}

	k.ok(args("describe pod echo"), "Name:", "echo", "Containers:", "ghcr.io/subicura/echo:v1", "Status:", "Pending")
	k.ok(args("describe deployment echo-deploy"), "Replicas:", "5 desired", "RollingUpdateStrategy:", "25% max unavailable")
	k.ok(args("describe service echo-svc"), "Type:", "NodePort", "IP:", "10.96.")

	// get -w sees a change made while it watches.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	watch := k.cmd(wctx, "get", "pods", "-w")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("kubectl get -w ended before showing %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-wctx.Done():
				t.Fatalf("kubectl get -w never showed %q", want)
			}
		}
	}
	waitLine("echo")
	k.ok(args("run nginx --image=nginx"), "pod/nginx created")
	waitLine("nginx")
	wcancel()
	_ = watch.Wait()

	k.fail(args("run nginx --image=nginx"), `Error from server (AlreadyExists): pods "nginx" already exists`)
	k.ok(args("expose pod nginx --port=80"), "service/nginx exposed")
	k.ok(args("expose deployment echo-deploy --port=80 --name=echo-deploy"), "service/echo-deploy exposed")
	svc, err := cs.CoreV1().Services("default").Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil || !strings.HasPrefix(svc.Spec.ClusterIP, "10.96.") || svc.Spec.Selector["run"] != "nginx" {
		t.Fatalf("exposed service: %v %+v", err, svc.Spec)
	}

	// explain reads the OpenAPI v3 schemas.
	k.ok(args("explain pod.spec.containers.image"), "FIELD: image <string>", "Container image name")
	k.ok(args("explain deployment.spec"), "GROUP:      apps", "replicas", "strategy")

	// kubectl create sends protobuf bodies.
	k.ok(args("create configmap settings --from-literal=a=b"), "configmap/settings created")
	k.ok(args("create deployment made --image=nginx --replicas=2"), "deployment.apps/made created")
	k.ok(args("create namespace team"), "namespace/team created")
	k.ok(args("get cm settings -o jsonpath={.data.a}"), "b")

	k.ok(args("delete -f echo-pod.yml -f objects.yml"),
		`pod "echo" deleted`, `replicaset.apps "echo-rs" deleted`, `deployment.apps "echo-deploy" deleted`, `service "echo-svc" deleted`)
	k.fail(args("get pod echo"), `Error from server (NotFound): pods "echo" not found`)
	k.fail(args("delete deployment nope"), `Error from server (NotFound): deployments.apps "nope" not found`)
}
