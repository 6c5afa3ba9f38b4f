package main

// Streams through the API server to the kubelet, driven with the real kubectl:
// port-forward (websocket-tunnelled SPDY and plain SPDY).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const streamsWeb = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: echo
        image: ghcr.io/subicura/echo:v1
        ports: [{name: http, containerPort: 3000}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`

// background is a kubectl left running (port-forward, attach), its output collected.
type background struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	exited chan struct{}
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// startKubectl runs kubectl until the test ends (killed by its PID then), with env added.
func (c *cluster) startKubectl(env []string, args ...string) *background {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	b := &background{exited: make(chan struct{})}
	b.cmd = exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir}, args...)...)
	b.cmd.Env = append(b.cmd.Environ(), env...)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		cancel()
		c.t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()
	c.t.Cleanup(func() {
		cancel() // kills this kubectl (its own PID)
		<-b.exited
	})
	return b
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)

// portForward starts kubectl port-forward to target's remote port and returns the local
// address once kubectl says it listens.
func (c *cluster) portForward(env []string, target, remote string) (*background, string) {
	c.t.Helper()
	b := c.startKubectl(env, "port-forward", "-v=4", target, ":"+remote)
	var port string
	c.eventually(30*time.Second, "kubectl port-forward "+target+" listening", func() (bool, string) {
		m := forwardingFrom.FindStringSubmatch(b.output())
		if m != nil {
			port = m[1]
		}
		return m != nil, tail(b.output(), 10)
	})
	return b, "127.0.0.1:" + port
}

func TestPortForward(t *testing.T) {
	c := startCluster(t, "10.242.0.0/16", "wkpf")
	c.apply(streamsWeb)
	c.eventually(90*time.Second, "web's pod running", func() (bool, string) {
		out, _ := c.kubectl("get", "pods", "-l", "app=web", "--no-headers")
		return strings.Contains(out, "1/1") && strings.Contains(out, "Running"), out
	})
	pod := strings.TrimPrefix(c.mustKubectl("get", "pods", "-l", "app=web", "-o", "name"), "pod/")
	pod = strings.TrimSpace(pod)

	// kubectl 1.32 tunnels SPDY through a websocket first (it logs the negotiated protocol
	// at -v=4); with KUBECTL_PORT_FORWARD_WEBSOCKETS=false it upgrades to SPDY itself.
	protocols := []struct {
		name, env, mark string
	}{
		{"websocket", "", "negotiated protocol: portforward.k8s.io"},
		{"spdy", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false", ""},
	}
	for _, p := range protocols {
		for _, target := range []string{"pod/" + pod, "deploy/web", "svc/web"} {
			remote := "3000"
			if target == "svc/web" {
				remote = "80" // the Service's port; kubectl maps it to the pod's targetPort
			}
			var env []string
			if p.env != "" {
				env = []string{p.env}
			}
			b, addr := c.portForward(env, target, remote)
			body, err := httpGet("http://" + addr + "/through-" + p.name)
			if err != nil || !strings.Contains(body, "Hostname: "+pod) || !strings.Contains(body, "GET /through-"+p.name) {
				t.Fatalf("%s port-forward %s: curl %s: %v\n%s\nkubectl:\n%s", p.name, target, addr, err, body, tail(b.output(), 20))
			}
			if p.mark != "" && !strings.Contains(b.output(), p.mark) {
				t.Fatalf("%s port-forward %s: kubectl did not use the websocket tunnel (no %q):\n%s", p.name, target, p.mark, tail(b.output(), 30))
			}
			if strings.Contains(b.output(), "falling back") || strings.Contains(strings.ToLower(b.output()), "upgrade failure") {
				t.Fatalf("%s port-forward %s fell back:\n%s", p.name, target, tail(b.output(), 30))
			}
		}
	}

	// A closed port: the connection closes and kubectl prints the kubelet's error.
	for _, p := range protocols {
		var env []string
		if p.env != "" {
			env = []string{p.env}
		}
		b, addr := c.portForward(env, "pod/"+pod, "3999")
		if body, err := httpGet("http://" + addr + "/"); err == nil {
			t.Fatalf("%s: curl through a forward to a closed port answered: %s", p.name, body)
		}
		c.eventually(10*time.Second, p.name+": kubectl shows the error", func() (bool, string) {
			out := b.output()
			return strings.Contains(out, "error forwarding port 3999 to pod default/"+pod) &&
				strings.Contains(out, "connection refused"), tail(out, 10)
		})
	}
}

// inPty runs kubectl with args in a pseudo-terminal (script), typing input, and returns
// what the terminal showed.
func (c *cluster) inPty(input string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kubectl := fmt.Sprintf("kubectl --kubeconfig %s --cache-dir %s %s", c.kubeconfig, c.cacheDir, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "script", "-qec", kubectl, "/dev/null")
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const streamsAttach = `apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  restartPolicy: Never
  containers:
  - {name: sh, image: busybox, command: [sh], stdin: true, tty: true}
---
apiVersion: v1
kind: Pod
metadata: {name: lines}
spec:
  restartPolicy: Never
  containers:
  - name: read
    image: busybox
    command: [sh, -c, 'while read l; do echo got-$l; done; echo stdin-closed']
    stdin: true
    stdinOnce: true
`

func TestAttach(t *testing.T) {
	c := startCluster(t, "10.241.0.0/16", "wksm")
	c.apply(streamsAttach)
	c.waitPod("shell", "Running", 90*time.Second)
	c.waitPod("lines", "Running", 90*time.Second)

	// A terminal: what is typed reaches the main process, its answer comes back.
	out, err := c.inPty("echo attached-$((6*7)); exit 0\n", "attach", "-it", "shell")
	if err != nil || !strings.Contains(out, "attached-42") {
		t.Fatalf("kubectl attach -it shell: %v\n%s", err, out)
	}
	c.waitPod("shell", "Completed", 30*time.Second)

	// No terminal, stdinOnce: the lines reach the process, the end of kubectl's stdin
	// closes the process's, so the loop ends and attach returns.
	out, err = c.kubectlIn([]byte("one\ntwo\n"), "attach", "-i", "lines")
	if err != nil || !strings.Contains(out, "got-one") || !strings.Contains(out, "got-two") || !strings.Contains(out, "stdin-closed") {
		t.Fatalf("kubectl attach -i lines: %v\n%s", err, out)
	}
	c.waitPod("lines", "Completed", 30*time.Second)

	// kubectl run -it --rm: the pod is made with stdin and a terminal, attached, and
	// deleted after the shell exits.
	out, err = c.inPty("echo run-$((40+2)); exit 0\n", "run", "rt", "-it", "--rm", "--restart=Never", "--image=busybox", "--", "sh")
	if err != nil || !strings.Contains(out, "run-42") || !strings.Contains(out, `pod "rt" deleted`) {
		t.Fatalf("kubectl run -it --rm: %v\n%s", err, out)
	}
	if out, err := c.kubectl("get", "pod", "rt"); err == nil {
		t.Fatalf("pod rt still there after run --rm:\n%s", out)
	}
}

const streamsTarget = `apiVersion: v1
kind: Pod
metadata: {name: target}
spec:
  containers:
  - {name: app, image: ghcr.io/subicura/echo:v1}
`

func TestDebug(t *testing.T) {
	c := startCluster(t, "10.234.0.0/16", "wkdb")
	c.apply(streamsTarget)
	c.waitPod("target", "Running", 90*time.Second)

	// An ephemeral container in the pod, sharing app's process namespace: its pid 1 is
	// app's process (the webkube binary of the echo image).
	out, err := c.inPty("echo pid1-is-$(cat /proc/1/comm); exit 0\n", "debug", "-it", "pod/target", "--image=busybox", "--target=app")
	if err != nil || !strings.Contains(out, "pid1-is-webkube") {
		t.Fatalf("kubectl debug -it pod/target --target=app: %v\n%s", err, out)
	}
	name := c.jsonpath("pod/target", "{.status.ephemeralContainerStatuses[0].name}")
	if !strings.HasPrefix(name, "debugger-") {
		t.Fatalf("ephemeral container status: %q", name)
	}
	c.eventually(30*time.Second, "the debug container terminated, app still running", func() (bool, string) {
		out := c.jsonpath("pod/target", "{.status.ephemeralContainerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.running.startedAt}")
		return strings.HasPrefix(out, "Completed ") && len(out) > len("Completed "), out
	})

	// The node: a pod with the host's process namespace, pid 1 is the machine's.
	host, _ := os.ReadFile("/proc/1/comm")
	out, err = c.inPty("echo pid1-is-$(cat /proc/1/comm); exit 0\n", "debug", "node/node-1", "-it", "--image=busybox")
	if err != nil || !strings.Contains(out, "pid1-is-"+strings.TrimSpace(string(host))) {
		t.Fatalf("kubectl debug node/node-1 -it: %v (want pid 1 %q)\n%s", err, host, out)
	}
}
