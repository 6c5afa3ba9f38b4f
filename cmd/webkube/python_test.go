package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The official Python client (Debian's python3-kubernetes) lists pods and watches one
// being created, running and deleted, from the resourceVersion of its list.
const pyListWatch = `
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
pods = v1.list_namespaced_pod("default")
for p in pods.items:
    print("LIST", p.metadata.name, p.status.phase, flush=True)
print("LISTED", pods.metadata.resource_version, flush=True)
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_pod, "default", resource_version=pods.metadata.resource_version, timeout_seconds=120):
    p = ev["object"]
    print("EVENT", ev["type"], p.metadata.name, p.status.phase, flush=True)
    if ev["type"] == "DELETED" and p.metadata.name == "py-watched":
        w.stop()
print("DONE", flush=True)
`

func TestPythonClient(t *testing.T) {
	// Debian's python3, where python3-kubernetes is installed (a pyenv python3 on PATH
	// would not see it).
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import kubernetes; print(kubernetes.__version__)").CombinedOutput(); err != nil {
		t.Fatalf("the Python client is not installed (%v: %s): run `make test-deps` as root (Debian python3-kubernetes)", err, out)
	}
	c := startCluster(t, "10.240.0.0/16", "wkpy")
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: py-listed}
spec:
  containers: [{name: app, image: busybox, command: ["sleep", "3600"]}]
`)
	c.waitPod("py-listed", "1/1 Running", 90*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := &background{exited: make(chan struct{})}
	b.cmd = exec.CommandContext(ctx, py, "-c", pyListWatch, c.kubeconfig)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()
	defer func() { cancel(); <-b.exited }()
	c.eventually(60*time.Second, "python lists the pods", func() (bool, string) {
		return strings.Contains(b.output(), "LISTED"), b.output()
	})
	if !strings.Contains(b.output(), "LIST py-listed Running") {
		t.Fatalf("python's list:\n%s", b.output())
	}
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: py-watched}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox, command: ["sleep", "3600"]}]
`)
	c.waitPod("py-watched", "1/1 Running", 90*time.Second)
	c.mustKubectl("delete", "pod", "py-watched", "--wait=false")
	select {
	case <-b.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("python's watch did not see py-watched deleted:\n%s", b.output())
	}
	out := b.output()
	for _, want := range []string{"EVENT ADDED py-watched Pending", "EVENT MODIFIED py-watched Running", "EVENT DELETED py-watched", "DONE"} {
		if !strings.Contains(out, want) {
			t.Fatalf("python's watch lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "EVENT ADDED py-listed") {
		t.Fatalf("the watch from the list's resourceVersion replayed a listed pod:\n%s", out)
	}
}
