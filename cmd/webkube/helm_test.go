package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helm v3 installs, upgrades, rolls back, tests and uninstalls the chart `helm create`
// makes, with its default values but for the image: the chart runs nginx from Docker Hub,
// which cannot be pulled here, so --set points it at webkube's built-in echo image, and
// service.port at 3000, the port echo listens on (the chart uses service.port as the
// container's port too). Everything else is the chart's: its ServiceAccount, Service,
// Deployment with liveness and readiness probes on the http port, the release's Secrets
// (helm's storage driver), and the test hook, a busybox pod that wgets the Service.
func TestHelm(t *testing.T) {
	helm := clientTool(t, "helm")
	dir := t.TempDir()
	env := []string{"HELM_CACHE_HOME=" + filepath.Join(dir, "cache"), "HELM_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HELM_DATA_HOME=" + filepath.Join(dir, "data")}
	for _, e := range env {
		kv := strings.SplitN(e, "=", 2)
		t.Setenv(kv[0], kv[1])
	}
	if out, err := runIn(dir, 30*time.Second, helm, "create", "mychart"); err != nil {
		t.Fatalf("helm create: %v\n%s", err, out)
	}
	chart := filepath.Join(dir, "mychart")
	if b, _ := os.ReadFile(filepath.Join(chart, "values.yaml")); !strings.Contains(string(b), "repository: nginx") {
		t.Fatalf("helm create's chart no longer runs nginx; values.yaml:\n%s", b)
	}
	c := startCluster(t, "10.230.0.0/16", "wkhm")
	builtin := []string{"--set", "image.repository=ghcr.io/subicura/echo", "--set", "image.tag=v1", "--set", "service.port=3000"}
	h := func(args ...string) string {
		t.Helper()
		out, err := c.runTool(3*time.Minute, helm, args...)
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	want := func(out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Fatalf("want %q in:\n%s", s, out)
			}
		}
	}
	readyReplicas := func(n string) {
		t.Helper()
		c.eventually(90*time.Second, "demo-mychart has "+n+" ready replicas", func() (bool, string) {
			out := c.jsonpath("deployment/demo-mychart", "{.status.readyReplicas}/{.status.replicas}/{.status.updatedReplicas}")
			return out == n+"/"+n+"/"+n, out
		})
	}

	want(h(append([]string{"install", "demo", chart, "--wait", "--timeout", "2m"}, builtin...)...),
		"NAME: demo", "STATUS: deployed", "REVISION: 1")
	readyReplicas("1")
	want(h("list"), "demo", "deployed", "mychart-0.1.0")
	want(c.mustKubectl("get", "secrets", "-l", "owner=helm,name=demo", "-o", "name"), "secret/sh.helm.release.v1.demo.v1")
	want(c.mustKubectl("get", "serviceaccount,service,deployment", "-l", "app.kubernetes.io/instance=demo", "-o", "name"),
		"serviceaccount/demo-mychart", "service/demo-mychart", "deployment.apps/demo-mychart")
	want(h("get", "manifest", "demo"), "kind: Deployment", "image: \"ghcr.io/subicura/echo:v1\"")

	want(h(append([]string{"upgrade", "demo", chart, "--wait", "--timeout", "2m", "--set", "replicaCount=2"}, builtin...)...),
		"has been upgraded", "REVISION: 2")
	readyReplicas("2")
	want(h("get", "values", "demo"), "replicaCount: 2")

	want(h("rollback", "demo", "1", "--wait", "--timeout", "2m"), "Rollback was a success")
	readyReplicas("1")
	hist := h("history", "demo")
	want(hist, "superseded", "Install complete", "Upgrade complete", "Rollback to 1")
	want(c.mustKubectl("get", "secrets", "-l", "owner=helm,name=demo", "-o", "name"),
		"sh.helm.release.v1.demo.v1", "sh.helm.release.v1.demo.v2", "sh.helm.release.v1.demo.v3")

	out := h("test", "demo", "--logs", "--timeout", "2m")
	want(out, "TEST SUITE:     demo-mychart-test-connection", "Phase:          Succeeded")
	if phase := c.jsonpath("pod/demo-mychart-test-connection", "{.status.phase}"); phase != "Succeeded" {
		t.Fatalf("test pod phase %q", phase)
	}

	want(h("uninstall", "demo", "--wait", "--timeout", "2m"), `release "demo" uninstalled`)
	c.eventually(60*time.Second, "the release's objects and Secrets gone", func() (bool, string) {
		out, _ := c.kubectl("get", "secrets,serviceaccounts,services,deployments,replicasets,pods",
			"-l", "app.kubernetes.io/instance=demo", "-o", "name")
		s, _ := c.kubectl("get", "secrets", "-l", "owner=helm", "-o", "name")
		// helm leaves hook objects without a delete policy, as the chart's test pod.
		left := strings.TrimSpace(strings.ReplaceAll(out+s, "pod/demo-mychart-test-connection", ""))
		return left == "", out + s
	})
	if out, err := c.runTool(time.Minute, helm, "status", "demo"); err == nil || !strings.Contains(out, "release: not found") {
		t.Fatalf("helm status after uninstall: %v\n%s", err, out)
	}
}

func runIn(dir string, timeout time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
