package main

import (
	"strings"
	"testing"
	"time"
)

// A pod talks to the API server as client-go's in-cluster config does: every namespace has
// a default ServiceAccount, its token, ca.crt and namespace are mounted at
// /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT point at the
// `kubernetes` Service, whose endpoint the pod reaches. Service link variables are there too.
func TestServiceAccountInCluster(t *testing.T) {
	c := startCluster(t, "10.228.0.0/16", "wksa")
	c.mustKubectl("create", "namespace", "team")
	// Before the cluster's own clean-up, which deletes the default namespace's pods only.
	t.Cleanup(func() { c.kubectl("-n", "team", "delete", "pods", "--all", "--wait=true", "--timeout=60s") })
	for _, ns := range []string{"default", "team"} {
		c.eventually(20*time.Second, ns+" has its default ServiceAccount and kube-root-ca.crt", func() (bool, string) {
			out, _ := c.kubectl("-n", ns, "get", "sa/default", "cm/kube-root-ca.crt", "-o", "name")
			return strings.Contains(out, "serviceaccount/default") && strings.Contains(out, "configmap/kube-root-ca.crt"), out
		})
	}
	c.mustKubectl("-n", "team", "create", "service", "clusterip", "web-db", "--tcp=5432:5432")
	// RBAC: a service account may do nothing until bound; view (aggregated by the
	// clusterrole-aggregation controller) lets team's default list the pods of team.
	c.mustKubectl("-n", "team", "create", "rolebinding", "default-view", "--clusterrole=view", "--serviceaccount=team:default")
	c.eventually(20*time.Second, "view is aggregated and team:default may list pods", func() (bool, string) {
		out, _ := c.kubectl("auth", "can-i", "list", "pods", "-n", "team", "--as=system:serviceaccount:team:default")
		return strings.TrimSpace(out) == "yes", out
	})

	// The real client-go, in a pod, with rest.InClusterConfig.
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: lister, namespace: team}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: ghcr.io/subicura/echo:v1
    command: [/webkube, sample, incluster]
`)
	c.eventually(90*time.Second, "the in-cluster client lists its namespace's pods", func() (bool, string) {
		out, _ := c.kubectl("-n", "team", "logs", "lister")
		return strings.Contains(out, "1 pods in team: lister"), out
	})
	// Its line is logged before it exits, and the kubelet reports Succeeded after that.
	c.eventually(30*time.Second, "lister Succeeded", func() (bool, string) {
		phase := strings.TrimSpace(c.mustKubectl("-n", "team", "get", "pod", "lister", "-o", "jsonpath={.status.phase}"))
		return phase == "Succeeded", "phase " + phase
	})

	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: team}
spec:
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: notoken, namespace: team}
spec:
  automountServiceAccountToken: false
  enableServiceLinks: false
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
`)
	for _, p := range []string{"shell", "notoken"} {
		c.eventually(60*time.Second, p+" Running", func() (bool, string) {
			out, _ := c.kubectl("-n", "team", "get", "pod", p, "--no-headers")
			return strings.Contains(out, "Running"), out
		})
	}
	kubeIP := strings.TrimSpace(c.mustKubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"))
	dbIP := strings.TrimSpace(c.mustKubectl("-n", "team", "get", "svc", "web-db", "-o", "jsonpath={.spec.clusterIP}"))
	env := c.mustKubectl("-n", "team", "exec", "shell", "--", "env")
	for _, want := range []string{"KUBERNETES_SERVICE_HOST=" + kubeIP, "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://" + kubeIP + ":443", "KUBERNETES_PORT_443_TCP_ADDR=" + kubeIP, "KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"WEB_DB_SERVICE_HOST=" + dbIP, "WEB_DB_SERVICE_PORT=5432", "WEB_DB_PORT_5432_TCP=tcp://" + dbIP + ":5432"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("shell's env lacks %s:\n%s", want, env)
		}
	}
	files, _ := c.kubectl("-n", "team", "exec", "shell", "--", "sh", "-c",
		"cd /var/run/secrets/kubernetes.io/serviceaccount && ls && cat namespace && echo && head -1 ca.crt && touch x")
	for _, want := range []string{"ca.crt\nnamespace\ntoken\n", "team\n", "-----BEGIN CERTIFICATE-----", "Read-only file system"} {
		if !strings.Contains(files, want) {
			t.Errorf("service account files lack %q:\n%s", want, files)
		}
	}
	// The mounted token is the pod's: it authenticates until the pod goes.
	token := c.mustKubectl("-n", "team", "exec", "shell", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token")
	if out := c.mustKubectl("--token", token, "-n", "team", "get", "pods", "-o", "name"); !strings.Contains(out, "pod/shell") {
		t.Errorf("the pod's token lists no pods:\n%s", out)
	}
	if out, err := c.kubectl("--token", token, "-n", "team", "delete", "pod", "notoken"); err == nil ||
		!strings.Contains(out, `pods "notoken" is forbidden: User "system:serviceaccount:team:default" cannot delete resource "pods" in API group "" in the namespace "team"`) {
		t.Errorf("view let the pod's token delete a pod (%v):\n%s", err, out)
	}

	out, _ := c.kubectl("-n", "team", "exec", "notoken", "--", "sh", "-c", "ls /var/run/secrets/kubernetes.io/serviceaccount; env")
	if !strings.Contains(out, "No such file") || strings.Contains(out, "WEB_DB_SERVICE_HOST") || !strings.Contains(out, "KUBERNETES_SERVICE_HOST="+kubeIP) {
		t.Errorf("automountServiceAccountToken: false and enableServiceLinks: false: want no token, no web-db variables, the kubernetes ones:\n%s", out)
	}
	c.mustKubectl("-n", "team", "delete", "pod", "shell", "--grace-period=0", "--force")
	c.eventually(20*time.Second, "the deleted pod's token is refused", func() (bool, string) {
		out, err := c.kubectl("--token", token, "-n", "team", "get", "pods")
		return err != nil && strings.Contains(out, "Unauthorized"), out
	})
}
