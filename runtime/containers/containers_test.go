package containers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/runtime/cni"
	wkcd "webkube/runtime/containerd"
	"webkube/runtime/containers/containerstest"
	"webkube/runtime/logs"
)

var env *containerstest.Env

func TestMain(m *testing.M) {
	var err error
	env, err = containerstest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "containers tests need a containerd:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

type fixture struct {
	ctx     context.Context
	rt      *Runtime
	net     *cni.Manager
	busybox containerd.Image
	exits   chan Status
	dataDir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(containerstest.Ctx())
	dir := t.TempDir()
	f := &fixture{ctx: ctx, exits: make(chan Status, 100), dataDir: dir}
	var err error
	f.busybox, err = env.Busybox(ctx, "test/busybox:1", containerstest.ImageConfig{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	f.rt, err = New(Config{
		Client:   env.Client,
		RuncRoot: wkcd.RuncRoot(env.Daemon.DataDir()),
		DataDir:  filepath.Join(dir, "kubelet"),
		OnExit:   func(s Status) { f.exits <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	n, _ := rand.Int(rand.Reader, big.NewInt(150))
	bridge := "wkc" + hex.EncodeToString(b)
	f.net, err = cni.NewManager(cni.Config{
		DataDir:     filepath.Join(dir, "cni"),
		Bridge:      bridge,
		Subnet:      fmt.Sprintf("10.252.%d.0/24", 100+n.Int64()),
		Nameservers: []string{"10.96.0.10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bg := containerstest.Ctx()
		sts, _ := f.rt.List(bg, "")
		for _, s := range sts {
			if err := f.rt.Remove(bg, s.ID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := f.net.RemoveNode(bg); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		cancel()
	})
	return f
}

func newPod(name string, containers ...corev1.Container) *corev1.Pod {
	b := make([]byte, 8)
	rand.Read(b)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + hex.EncodeToString(b))},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

// run sets up the pod's network (once) and creates and starts one of its containers.
func (f *fixture) run(t testing.TB, pod *corev1.Pod, i int, restart int, img containerd.Image) (string, cni.Network) {
	t.Helper()
	nw, err := f.net.SetUp(f.ctx, string(pod.UID), pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if img == nil {
		img = f.busybox
	}
	id, err := f.rt.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[i], Image: img, Network: nw, RestartCount: restart})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rt.StartContainer(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	return id, nw
}

// wait waits for the container to exit and returns its status.
func (f *fixture) wait(t testing.TB, id string, timeout time.Duration) Status {
	t.Helper()
	select {
	case <-f.rt.Done(id):
	case <-time.After(timeout):
		t.Fatalf("container %s still running after %v", id, timeout)
	}
	st, err := f.rt.Status(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) logOf(t testing.TB, id string) string {
	t.Helper()
	p, err := f.rt.LogPath(f.ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := logs.Read(f.ctx, p, logs.Options{TailLines: -1}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Command: []string{"sh", "-c", script}}
}

func TestPodSharesLocalhostAndEmptyDir(t *testing.T) {
	f := newFixture(t)
	pod := newPod("web",
		sh("server", "echo shared > /data/a.txt && exec httpd -f -p 8080 -h /data"),
		sh("client", "until wget -q -O - http://localhost:8080/a.txt; do sleep 0.1; done; cat /data/a.txt"),
	)
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	server, nw := f.run(t, pod, 0, 0, nil)
	client, _ := f.run(t, pod, 1, 0, nil)
	st := f.wait(t, client, 20*time.Second)
	if st.ExitCode != 0 || st.Reason != "Completed" {
		t.Fatalf("client exited %d %s; log:\n%s", st.ExitCode, st.Reason, f.logOf(t, client))
	}
	if got := f.logOf(t, client); got != "shared\nshared\n" {
		t.Fatalf("client log %q, want the server's file over localhost and from the emptyDir", got)
	}

	t.Run("HostReachesPod", func(t *testing.T) {
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + nw.IP + ":8080/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "shared\n" {
			t.Fatalf("got %q", body)
		}
	})
	t.Run("Status", func(t *testing.T) {
		st, err := f.rt.Status(f.ctx, server)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != StateRunning || st.Pid == 0 || st.Name != "server" || st.PodName != "web" || st.PodUID != string(pod.UID) || st.StartedAt.IsZero() {
			t.Fatalf("status %+v", st)
		}
		list, err := f.rt.List(f.ctx, string(pod.UID))
		if err != nil || len(list) != 2 {
			t.Fatalf("List = %d, %v", len(list), err)
		}
	})
	t.Run("OneShimPerPod", func(t *testing.T) {
		// The client has exited; start another container and compare the parents.
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "sleeper", Command: []string{"sleep", "100"}})
		other, _ := f.run(t, pod, 2, 0, nil)
		a, _ := f.rt.Status(f.ctx, server)
		b, _ := f.rt.Status(f.ctx, other)
		if pa, pb := ppid(t, a.Pid), ppid(t, b.Pid); pa != pb {
			t.Fatalf("containers of one pod have shims %s and %s, want one", pa, pb)
		}
	})
	t.Run("OnExit", func(t *testing.T) {
		select {
		case s := <-f.exits:
			if s.ID != client {
				t.Fatalf("OnExit for %s, want %s", s.ID, client)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("OnExit not called")
		}
	})
}

func TestProcessSeesCommandEnvAndWorkingDir(t *testing.T) {
	f := newFixture(t)
	img, err := env.Busybox(f.ctx, "test/entry:1", containerstest.ImageConfig{
		Entrypoint: []string{"echo", "entry"},
		Cmd:        []string{"cmd"},
		Env:        []string{"PATH=/bin", "FROM_IMAGE=img", "OVERRIDE=image"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want string
	}{
		{"ImageDefaults", corev1.Container{Name: "c"}, "entry cmd\n"},
		{"ArgsReplaceCmd", corev1.Container{Name: "c", Args: []string{"args"}}, "entry args\n"},
		{"CommandReplacesBoth", corev1.Container{Name: "c", Command: []string{"echo", "command"}}, "command\n"},
		{"EnvAndWorkingDir", corev1.Container{
			Name:       "c",
			Command:    []string{"sh", "-c", `echo "$FOO $FROM_IMAGE $OVERRIDE $POD $IP $(pwd) $(hostname) $0"`, "$(FOO)"},
			WorkingDir: "/work/dir",
			Env: []corev1.EnvVar{
				{Name: "BAR", Value: "bar"},
				{Name: "FOO", Value: "$(BAR)-x"},
				{Name: "OVERRIDE", Value: "pod"},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			},
		}, "bar-x img pod envpod IP /work/dir envpod bar-x\n"},
		{"EtcFiles", corev1.Container{Name: "c", Command: []string{"sh", "-c", "grep -c envpod /etc/hosts; grep search /etc/resolv.conf; cat /etc/hostname"}},
			"1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\nenvpod\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("envpod", tc.c)
			id, nw := f.run(t, pod, 0, 0, img)
			st := f.wait(t, id, 10*time.Second)
			want := strings.ReplaceAll(tc.want, "IP", nw.IP)
			if got := f.logOf(t, id); got != want || st.ExitCode != 0 {
				t.Fatalf("exit %d, output %q, want %q", st.ExitCode, got, want)
			}
		})
	}
}

func TestTTYContainer(t *testing.T) {
	f := newFixture(t)
	c := sh("c", "tty; echo to stderr >&2")
	c.TTY = true
	id, _ := f.run(t, newPod("tty", c), 0, 0, nil)
	st := f.wait(t, id, 10*time.Second)
	// A terminal turns \n into \r\n, as in Kubernetes' logs of a tty container.
	if got := f.logOf(t, id); st.ExitCode != 0 || got != "/dev/pts/0\r\nto stderr\r\n" {
		t.Fatalf("exit %d, log %q", st.ExitCode, got)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t)
	ref := &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}
	for _, tc := range []struct {
		name string
		opts CreateOptions
		want string
	}{
		{"MissingConfigMap", CreateOptions{}, `key "mode" of configmap "settings" not found`},
		{"MissingKey", CreateOptions{ConfigMaps: map[string]map[string]string{"settings": {"other": "x"}}}, `key "mode" of configmap "settings" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := newPod("cfg", corev1.Container{Name: "c", Command: []string{"true"}, Env: []corev1.EnvVar{{Name: "MODE", ValueFrom: ref}}})
			tc.opts.Pod, tc.opts.Container, tc.opts.Image = pod, &pod.Spec.Containers[0], f.busybox
			_, err := f.rt.Create(f.ctx, tc.opts)
			if !errors.Is(err, ErrContainerConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a CreateContainerConfigError saying %s", err, tc.want)
			}
		})
	}
	t.Run("ConfigMapEnvAndVolume", func(t *testing.T) {
		pod := newPod("cfg", corev1.Container{Name: "c", Command: []string{"sh", "-c", "echo $MODE; cat /etc/app/mode; ls /etc/app"},
			Env:          []corev1.EnvVar{{Name: "MODE", ValueFrom: ref}},
			VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/app", ReadOnly: true}}})
		pod.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}}
		nw, err := f.net.SetUp(f.ctx, string(pod.UID), pod.Namespace, pod.Name)
		if err != nil {
			t.Fatal(err)
		}
		id, err := f.rt.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[0], Image: f.busybox, Network: nw,
			ConfigMaps: map[string]map[string]string{"settings": {"mode": "fast", "level": "3"}},
			// The kubelet computes a volume's files (keyFiles); the runtime writes them.
			VolumeFiles: map[string][]File{"conf": {{Path: "mode", Data: []byte("fast"), Mode: 0o644}, {Path: "level", Data: []byte("3"), Mode: 0o644}}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.rt.StartContainer(f.ctx, id); err != nil {
			t.Fatal(err)
		}
		f.wait(t, id, 10*time.Second)
		if got := f.logOf(t, id); got != "fast\nfastlevel\nmode\n" { // the file has no newline
			t.Fatalf("log %q", got)
		}
	})
}

func TestExitCodes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		script string
		code   int32
		reason string
	}{{"exit 0", 0, "Completed"}, {"exit 3", 3, "Error"}, {`sh -c 'kill -9 $$$$'; exit $?`, 137, "Error"}} {
		t.Run(tc.script, func(t *testing.T) {
			id, _ := f.run(t, newPod("exit", sh("c", tc.script)), 0, 0, nil)
			st := f.wait(t, id, 10*time.Second)
			if st.State != StateExited || st.ExitCode != tc.code || st.Reason != tc.reason || st.FinishedAt.IsZero() {
				t.Fatalf("status %+v, want exit %d %s", st, tc.code, tc.reason)
			}
			// The exited instance's task is deleted, so no shim stays behind for it (one
			// per restart piled up, ~13 MB each); its status still reads the same, also
			// for a Runtime started afterwards (a restarted webkube).
			nsCtx := namespaces.WithNamespace(f.ctx, f.rt.cfg.Namespace)
			c, err := env.Client.LoadContainer(nsCtx, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Task(nsCtx, nil); !errdefs.IsNotFound(err) {
				t.Fatalf("task of the exited container still there (err %v): its shim keeps running", err)
			}
			rt, err := New(Config{Client: env.Client, RuncRoot: f.rt.cfg.RuncRoot, DataDir: f.rt.cfg.DataDir, Address: env.Daemon.Address()})
			if err != nil {
				t.Fatal(err)
			}
			again, err := rt.Status(f.ctx, id)
			if err != nil || again.State != StateExited || again.ExitCode != tc.code || again.Reason != tc.reason || !again.FinishedAt.Equal(st.FinishedAt) {
				t.Fatalf("after the task is gone: %+v, %v; want %+v", again, err, st)
			}
		})
	}
}

func TestStop(t *testing.T) {
	f := newFixture(t)
	t.Run("SIGTERMIgnoredThenSIGKILL", func(t *testing.T) {
		// busybox sleep as PID 1 has no SIGTERM handler, so the kernel ignores SIGTERM.
		id, _ := f.run(t, newPod("stubborn", corev1.Container{Name: "c", Command: []string{"sleep", "1000"}}), 0, 0, nil)
		start := time.Now()
		if err := f.rt.Stop(f.ctx, id, 700*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		st, _ := f.rt.Status(f.ctx, id)
		if st.ExitCode != 137 || took < 700*time.Millisecond || took > 5*time.Second {
			t.Fatalf("exit %d after %v, want 137 after the 700ms grace period", st.ExitCode, took)
		}
	})
	t.Run("SIGTERMHandled", func(t *testing.T) {
		id, _ := f.run(t, newPod("polite", sh("c", `trap "echo bye; exit 0" TERM; echo ready; while true; do sleep 0.1; done`)), 0, 0, nil)
		waitLog(t, f, id, "ready\n")
		start := time.Now()
		if err := f.rt.Stop(f.ctx, id, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		st, _ := f.rt.Status(f.ctx, id)
		if st.ExitCode != 0 || time.Since(start) > 5*time.Second || f.logOf(t, id) != "ready\nbye\n" {
			t.Fatalf("exit %d after %v, log %q", st.ExitCode, time.Since(start), f.logOf(t, id))
		}
	})
	t.Run("NotRunning", func(t *testing.T) {
		id, _ := f.run(t, newPod("done", sh("c", "true")), 0, 0, nil)
		f.wait(t, id, 10*time.Second)
		if err := f.rt.Stop(f.ctx, id, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := f.rt.Remove(f.ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := f.rt.Remove(f.ctx, id); err != nil {
			t.Fatalf("second Remove: %v", err)
		}
		if err := f.rt.Stop(f.ctx, id, time.Second); err != nil {
			t.Fatalf("Stop after Remove: %v", err)
		}
	})
	t.Run("StartTwice", func(t *testing.T) {
		id, _ := f.run(t, newPod("twice", corev1.Container{Name: "c", Command: []string{"sleep", "100"}}), 0, 0, nil)
		if err := f.rt.StartContainer(f.ctx, id); err == nil {
			t.Fatal("second StartContainer of a running container worked")
		}
		if st, _ := f.rt.Status(f.ctx, id); st.State != StateRunning {
			t.Fatalf("after a refused second start: %+v", st)
		}
	})
	t.Run("StartAfterCrashBeforeStart", func(t *testing.T) {
		// A task created but never started, as a kubelet dying between the two leaves it.
		pod := newPod("half", corev1.Container{Name: "c", Command: []string{"sh", "-c", "echo ran"}})
		nw, _ := f.net.SetUp(f.ctx, string(pod.UID), pod.Namespace, pod.Name)
		id, err := f.rt.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[0], Image: f.busybox, Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := env.Client.LoadContainer(f.ctx, id)
		if _, err := c.NewTask(f.ctx, cio.NullIO); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.rt.Status(f.ctx, id); st.State != StateCreated {
			t.Fatalf("half-started container: %+v", st)
		}
		if err := f.rt.StartContainer(f.ctx, id); err != nil {
			t.Fatal(err)
		}
		if st := f.wait(t, id, 10*time.Second); st.ExitCode != 0 || f.logOf(t, id) != "ran\n" {
			t.Fatalf("%+v, log %q", st, f.logOf(t, id))
		}
	})
}

func TestMemoryLimitOOMKilled(t *testing.T) {
	f := newFixture(t)
	c := corev1.Container{Name: "hog", Command: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi"), corev1.ResourceCPU: resource.MustParse("500m")}
	id, _ := f.run(t, newPod("oom", c), 0, 0, nil)
	st := f.wait(t, id, 20*time.Second)
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Fatalf("status %+v, want OOMKilled 137; log %q", st, f.logOf(t, id))
	}
	cont, _ := env.Client.LoadContainer(f.ctx, id)
	spec, _ := cont.Spec(f.ctx)
	if q := spec.Linux.Resources.CPU.Quota; q == nil || *q != 50000 {
		t.Errorf("cpu quota %v, want 50000 of 100000", q)
	}
	if s := spec.Linux.Resources.CPU.Shares; s == nil || *s != 512 {
		t.Errorf("cpu shares %v, want 512", s)
	}
}

func waitLog(t *testing.T, f *fixture, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := f.logOf(t, id)
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q never contained %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLogsStreamsAndPrevious(t *testing.T) {
	f := newFixture(t)
	pod := newPod("logger", sh("c", "echo out; echo err >&2; echo out2; exit 1"))
	first, _ := f.run(t, pod, 0, 0, nil)
	f.wait(t, first, 10*time.Second)
	p0, _ := f.rt.LogPath(f.ctx, first, false)
	raw, _ := os.ReadFile(p0)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	// The two streams come through separate pipes: order is kept within a stream only.
	var streams []string
	for _, l := range lines {
		e, err := logs.ParseEntry([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, e.Stream+":"+string(e.Content))
	}
	if got := strings.Join(streams, ","); got != "stdout:out,stdout:out2,stderr:err" && got != "stdout:out,stderr:err,stdout:out2" && got != "stderr:err,stdout:out,stdout:out2" {
		t.Fatalf("CRI log:\n%s", raw)
	}
	if _, err := f.rt.LogPath(f.ctx, first, true); err == nil {
		t.Fatal("instance 0 has a previous log")
	}
	if err := f.rt.Remove(f.ctx, first); err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0] = sh("c", "echo second")
	second, _ := f.run(t, pod, 0, 1, nil)
	f.wait(t, second, 10*time.Second)
	if got := f.logOf(t, second); got != "second\n" {
		t.Fatalf("current log %q", got)
	}
	prev, err := f.rt.LogPath(f.ctx, second, true)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	logs.Read(f.ctx, prev, logs.Options{TailLines: 1, Timestamps: true}, &b)
	out := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(out) != 1 || !strings.HasSuffix(out[0], " "+strings.SplitN(lines[2], " ", 4)[3]) {
		t.Fatalf("previous, tail 2, timestamps: %q", b.String())
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(out[0])[0]); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
}

func TestExec(t *testing.T) {
	f := newFixture(t)
	id, _ := f.run(t, newPod("exec", corev1.Container{Name: "c", Command: []string{"sleep", "1000"}, Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}), 0, 0, nil)
	t.Run("OutputAndExitCode", func(t *testing.T) {
		var out, errb bytes.Buffer
		code, err := f.rt.Exec(f.ctx, id, ExecOptions{Command: []string{"sh", "-c", "echo $GREETING; echo oops >&2; exit 7"}, Stdout: &out, Stderr: &errb})
		if err != nil || code != 7 || out.String() != "hi\n" || errb.String() != "oops\n" {
			t.Fatalf("code %d err %v stdout %q stderr %q", code, err, out.String(), errb.String())
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		var out bytes.Buffer
		code, err := f.rt.Exec(f.ctx, id, ExecOptions{Command: []string{"cat"}, Stdin: strings.NewReader("from stdin\n"), Stdout: &out})
		if err != nil || code != 0 || out.String() != "from stdin\n" {
			t.Fatalf("code %d err %v stdout %q", code, err, out.String())
		}
	})
	t.Run("TTY", func(t *testing.T) {
		pr, pw := io.Pipe()
		resize := make(chan TermSize, 1)
		resize <- TermSize{Width: 100, Height: 40}
		out := &syncBuffer{}
		done := make(chan struct{})
		var code int
		var err error
		go func() {
			defer close(done)
			code, err = f.rt.Exec(f.ctx, id, ExecOptions{Command: []string{"sh"}, TTY: true, Stdin: pr, Stdout: out, Resize: resize})
		}()
		time.Sleep(300 * time.Millisecond) // let the resize land before asking
		io.WriteString(pw, "tty; stty size; echo $TERM; exit 5\n")
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("tty exec did not end")
		}
		pw.Close()
		got := out.String()
		if err != nil || code != 5 || !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "40 100") || !strings.Contains(got, "xterm") {
			t.Fatalf("code %d err %v output %q", code, err, got)
		}
	})
	t.Run("ContextCancelKills", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(f.ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.rt.Exec(ctx, id, ExecOptions{Command: []string{"sleep", "100"}})
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
	t.Run("NotRunning", func(t *testing.T) {
		done, _ := f.run(t, newPod("gone", sh("c", "true")), 0, 0, nil)
		f.wait(t, done, 10*time.Second)
		if _, err := f.rt.Exec(f.ctx, done, ExecOptions{Command: []string{"true"}}); err == nil {
			t.Fatal("exec into an exited container worked")
		}
	})
}

// TestReattachAfterRestart stops one Runtime (as a webkube exit would) and checks that a
// new one keeps logging the running container and reports its exit.
func TestReattachAfterRestart(t *testing.T) {
	f := newFixture(t)
	ctx1, cancel1 := context.WithCancel(f.ctx)
	rt1, err := New(Config{Client: env.Client, RuncRoot: f.rt.cfg.RuncRoot, DataDir: f.rt.cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt1.Start(ctx1); err != nil {
		t.Fatal(err)
	}
	pod := newPod("ticker", sh("c", `trap "echo bye; exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done`))
	nw, err := f.net.SetUp(f.ctx, string(pod.UID), "default", "ticker")
	if err != nil {
		t.Fatal(err)
	}
	id, err := rt1.Create(f.ctx, CreateOptions{Pod: pod, Container: &pod.Spec.Containers[0], Image: f.busybox, Network: nw})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt1.StartContainer(f.ctx, id); err != nil {
		t.Fatal(err)
	}
	waitLog(t, f, id, "tick 3\n")
	st1, _ := rt1.Status(f.ctx, id)
	cancel1() // "webkube exits"
	time.Sleep(300 * time.Millisecond)

	rt2, err := New(Config{Client: env.Client, RuncRoot: f.rt.cfg.RuncRoot, DataDir: f.rt.cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt2.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	list, err := rt2.List(f.ctx, string(pod.UID))
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != StateRunning || list[0].Pid != st1.Pid {
		t.Fatalf("after restart List = %+v, %v; want the same running process %d", list, err, st1.Pid)
	}
	n := strings.Count(f.logOf(t, id), "tick")
	waitLog(t, f, id, fmt.Sprintf("tick %d\n", n+5))
	if err := rt2.Stop(f.ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rt2.Done(id):
	case <-time.After(5 * time.Second):
		t.Fatal("reattached runtime did not see the exit")
	}
	log := f.logOf(t, id)
	if !strings.HasSuffix(log, "bye\n") {
		t.Fatalf("log does not end with the exit message: ...%q", log[max(0, len(log)-60):])
	}
	// Every tick is in the log once, in order: nothing lost or doubled across the restart.
	for i, line := range strings.Split(strings.TrimSuffix(log, "bye\n"), "\n") {
		if line != "" && line != fmt.Sprintf("tick %d", i) {
			t.Fatalf("line %d is %q", i, line)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func ppid(t *testing.T, pid uint32) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return f[1]
}

// TestSurvivesContainerdRestart restarts the containerd daemon under a running container:
// the process goes on, its output still reaches the log, and its exit is still seen.
func TestSurvivesContainerdRestart(t *testing.T) {
	f := newFixture(t)
	id, _ := f.run(t, newPod("survivor", sh("c", `trap "echo bye; exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done`)), 0, 0, nil)
	waitLog(t, f, id, "tick 2\n")
	before, _ := f.rt.Status(f.ctx, id)
	env.Daemon.Stop()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	if err := env.Daemon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := strings.Count(f.logOf(t, id), "tick")
	waitLog(t, f, id, fmt.Sprintf("tick %d\n", n+5))
	var after Status
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		if after, err = f.rt.Status(f.ctx, id); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after.State != StateRunning || after.Pid != before.Pid {
		t.Fatalf("after restart: %+v, want pid %d running", after, before.Pid)
	}
	if err := f.rt.Stop(f.ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.rt.Done(id):
	case <-time.After(10 * time.Second):
		t.Fatal("exit not seen after the containerd restart")
	}
	if log := f.logOf(t, id); !strings.HasSuffix(log, "bye\n") {
		t.Fatalf("log ends %q", log[max(0, len(log)-40):])
	}
}
