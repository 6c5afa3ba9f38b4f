package main

// The acceptance tests run the real webkube binary as a user does (root, its own
// containerd, CNI bridge) and drive it with /usr/bin/kubectl.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"webkube/internal/eventually"
)

var webkubeBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "cmd/webkube tests run pods on containerd and need root (run `make test` as root)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "webkube-bin")
	if err != nil {
		panic(err)
	}
	webkubeBin = filepath.Join(dir, "webkube")
	build := exec.Command("go", "build", "-o", webkubeBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building webkube:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is one webkube process with its own data dir, ports, pod network and bridge.
type cluster struct {
	t           testing.TB
	dataDir     string
	kubeconfig  string
	cacheDir    string
	addr        string
	apiAddr     string
	ingressAddr string // the ingress controller's proxy
	ingressTLS  string // and its TLS proxy
	args        []string
	cmd         *exec.Cmd
	logPath     string
	exited      chan struct{}
}

// Each test cluster gets its own pod network and bridge names so tests never touch a
// webkube a developer runs on the same machine.
func startCluster(t testing.TB, podNet, bridgePrefix string, extra ...string) *cluster {
	t.Helper()
	// Short path: containerd's sockets live under it and unix socket paths are short.
	dataDir, err := os.MkdirTemp("/tmp", "wkt")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dataDir: dataDir, kubeconfig: filepath.Join(dataDir, "kubeconfig"), cacheDir: t.TempDir(),
		addr: freeAddr(t), apiAddr: freeAddr(t), ingressAddr: freeAddr(t), ingressTLS: freeAddr(t), logPath: filepath.Join(t.TempDir(), "webkube.log")}
	c.args = []string{"--data-dir", dataDir, "--addr", c.addr, "--api-addr", c.apiAddr, "--ingress-addr", c.ingressAddr, "--ingress-tls-addr", c.ingressTLS,
		"--pod-network", podNet, "--bridge-prefix", bridgePrefix, "--log-level", "debug", "--nodeport-addr", "127.0.0.1"}
	if !strings.Contains(strings.Join(extra, " "), "--service-cidr") {
		// Its own service range too (so its DNS address differs from a running webkube's):
		// pod network 10.N.0.0/16 gets services 10.(N-100).0.0/16.
		var a, b int
		fmt.Sscanf(podNet, "%d.%d.", &a, &b)
		c.args = append(c.args, "--service-cidr", fmt.Sprintf("10.%d.0.0/16", b-100))
	}
	c.args = append(c.args, extra...)
	c.start()
	t.Cleanup(func() {
		c.deleteAllPods()
		// A finished pod's object goes at once; its node releases the network just after.
		// Give it that moment, then anything left is a leak.
		deadline := time.Now().Add(20 * time.Second)
		for len(podNetnsMounts(dataDir)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		c.stop()
		if leaks := podNetnsMounts(dataDir); len(leaks) > 0 {
			t.Errorf("pod network namespaces left after every pod was deleted: %v", leaks)
			for _, m := range leaks {
				exec.Command("umount", m).Run()
			}
		}
		if t.Failed() {
			if b, err := os.ReadFile(c.logPath); err == nil {
				t.Logf("webkube log (tail):\n%s", tail(string(b), 60))
			}
		}
		for i := 0; i < 4; i++ { // node i+1's bridge and its masquerade rule
			br := fmt.Sprintf("%s%d", bridgePrefix, i)
			exec.Command("ip", "link", "del", br).Run()
			exec.Command("sh", "-c", `iptables -t nat -S POSTROUTING | grep 'webkube pods on `+br+`"' | sed 's/^-A/-D/' | xargs -r -L1 iptables -t nat`).Run()
		}
		exec.Command("ip", "link", "del", bridgePrefix+"svc").Run()
		os.RemoveAll(dataDir)
	})
	return c
}

func (c *cluster) start() {
	c.t.Helper()
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd = exec.Command(webkubeBin, c.args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func() { c.cmd.Wait(); logf.Close(); close(c.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + c.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-c.exited:
			b, _ := os.ReadFile(c.logPath)
			c.t.Fatalf("webkube exited at start:\n%s", tail(string(b), 40))
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("webkube not ready after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The node registers right after the API is up.
	c.eventually(30*time.Second, "node Ready", func() (bool, string) {
		out, _ := c.kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}")
		return strings.Contains(out, "True"), out
	})
}

// stop ends webkube with SIGTERM, as Ctrl-C does.
func (c *cluster) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// kill9 ends webkube without any chance to clean up.
func (c *cluster) kill9() {
	c.cmd.Process.Kill()
	<-c.exited
	c.cmd = nil
}

func (c *cluster) deleteAllPods() {
	if c.cmd == nil {
		return
	}
	c.kubectl("delete", "deploy,rs,pods", "--all", "--wait=true", "--timeout=60s")
}

func (c *cluster) kubectl(args ...string) (string, error) {
	return c.kubectlIn(nil, args...)
}

func (c *cluster) kubectlIn(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cluster) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) apply(yaml string) {
	c.t.Helper()
	out, err := c.kubectlIn([]byte(yaml), "apply", "-f", "-")
	if err != nil {
		c.t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// jsonpath reads one field of an object.
func (c *cluster) jsonpath(obj, path string) string {
	out, _ := c.kubectl("get", obj, "-o", "jsonpath="+path)
	return strings.TrimSpace(out)
}

func (c *cluster) eventually(timeout time.Duration, what string, f func() (bool, string)) {
	c.t.Helper()
	eventually.That(c.t, timeout, what, f)
}

func (c *cluster) waitPod(name, want string, timeout time.Duration) {
	c.t.Helper()
	c.eventually(timeout, "pod "+name+" "+want, func() (bool, string) {
		out, _ := c.kubectl("get", "pod", name, "--no-headers")
		// Columns are padded; compare with single spaces ("2/2 Running").
		out = strings.Join(strings.Fields(out), " ")
		return strings.Contains(out, want), out
	})
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String(), nil
}

// podNetnsMounts lists the pod network namespaces mounted under a data dir.
func podNetnsMounts(dataDir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dataDir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// logSize is how much of webkube's log is written so far, to read what comes after it.
func (c *cluster) logSize() int64 {
	fi, err := os.Stat(c.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logLinesSince returns the log's lines after offset that contain any of the words.
func (c *cluster) logLinesSince(offset int64, words ...string) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
