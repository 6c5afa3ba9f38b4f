package validation_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"webkube/cluster/apiserver/apiservertest"
)

const kubectlPath = "/usr/bin/kubectl"

type kubectl struct {
	t     *testing.T
	srv   *apiservertest.Server
	cache string
}

// run runs the real kubectl with stdin and returns its combined output and success.
func (k kubectl) run(stdin string, args ...string) (string, bool) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", k.srv.KubeconfigPath, "--cache-dir", k.cache}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, args...)
	cmd.Env = append(os.Environ(), "HOME="+k.cache)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func (k kubectl) apply(manifest string, wantOK bool, want ...string) {
	k.t.Helper()
	out, ok := k.run(manifest, "apply", "-f", "-")
	if ok != wantOK {
		k.t.Fatalf("kubectl apply: success=%v, want %v:\n%s", ok, wantOK, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			k.t.Errorf("kubectl apply output lacks %q:\n%s", w, out)
		}
	}
}

const probePod = `
apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
      livenessProbe:
        httpGet:
          path: /
          port: 3000
        initialDelaySeconds: 5
        timeoutSeconds: 2
        periodSeconds: 5
        failureThreshold: 1
`

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo-deploy
spec:
  replicas: 2
  selector:
    matchLabels:
      app: SELECTOR
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
`

// TestKubectlSeesKubernetesErrorsAndDefaults applies manifests with the real kubectl and
// checks the messages and defaults a learner sees, word for word where it matters.
func TestKubectlSeesKubernetesErrorsAndDefaults(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Fatalf("this test needs the real kubectl v1.32 at %s (install the kubectl package from pkgs.k8s.io): %v", kubectlPath, err)
	}
	k := kubectl{t: t, srv: apiservertest.Start(t), cache: t.TempDir()}

	k.apply(strings.ReplaceAll(deployment, "SELECTOR", "x"), false,
		`The Deployment "echo-deploy" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"echo"}: `+"`selector` does not match template `labels`")
	k.apply(strings.ReplaceAll(strings.ReplaceAll(deployment, "SELECTOR", "echo"), "replicas: 2", "replicas: -1"), false,
		`spec.replicas: Invalid value: -1: must be greater than or equal to 0`)
	k.apply(`
apiVersion: v1
kind: Pod
metadata:
  name: twins
spec:
  containers:
  - {name: app, image: redis}
  - {name: app, image: redis}
`, false, `The Pod "twins" is invalid: spec.containers[1].name: Duplicate value: "app"`)
	k.apply(`
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
  - port: 70000
`, false, `spec.ports[0].name: Required value`, `spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive`)
	if out, _ := k.run("", "get", "pods,deploy,svc", "-o", "name"); strings.Contains(out, "twins") || strings.Contains(out, "echo-deploy") || strings.Contains(out, "service/web") {
		t.Errorf("an invalid object was stored:\n%s", out)
	}

	// A valid pod gets the defaults a real cluster shows in -o yaml.
	k.apply(probePod, true, "pod/echo created")
	out, ok := k.run("", "get", "pod", "echo", "-o", "yaml")
	if !ok {
		t.Fatalf("get pod: %s", out)
	}
	for _, want := range []string{
		"imagePullPolicy: IfNotPresent", "restartPolicy: Always", "dnsPolicy: ClusterFirst", "schedulerName: default-scheduler",
		"terminationGracePeriodSeconds: 30", "terminationMessagePath: /dev/termination-log", "terminationMessagePolicy: File",
		"enableServiceLinks: true", "securityContext: {}", "scheme: HTTP", "successThreshold: 1", "timeoutSeconds: 2", "priority: 0",
		"qosClass: BestEffort", "phase: Pending",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("pod -o yaml lacks %q:\n%s", want, out)
		}
	}
	// Changing a probe of a running pod is refused with Kubernetes' words; the image may change.
	k.apply(strings.Replace(probePod, "path: /", "path: /wrong-path", 1), false,
		`The Pod "echo" is invalid: spec: Forbidden: pod updates may not change fields other than `+"`spec.containers[*].image`")
	k.apply(strings.Replace(probePod, "echo:v1", "echo:v2", 1), true, "pod/echo configured")

	k.apply(strings.ReplaceAll(deployment, "SELECTOR", "echo"), true, "deployment.apps/echo-deploy created")
	out, _ = k.run("", "get", "deploy", "echo-deploy", "-o", "yaml")
	for _, want := range []string{"maxSurge: 25%", "maxUnavailable: 25%", "type: RollingUpdate", "revisionHistoryLimit: 10", "progressDeadlineSeconds: 600"} {
		if !strings.Contains(out, want) {
			t.Errorf("deployment -o yaml lacks %q:\n%s", want, out)
		}
	}
	changed := strings.ReplaceAll(strings.ReplaceAll(deployment, "SELECTOR", "echo2"), "app: echo\n", "app: echo2\n")
	k.apply(changed, false, `spec.selector: Invalid value:`, `field is immutable`)
}
