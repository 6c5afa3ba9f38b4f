package images_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"
	corev1 "k8s.io/api/core/v1"

	"webkube/runtime/images"
)

func TestBuiltinsListedAndIdempotent(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	list, err := e.svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, in := range list {
		if in.Builtin {
			digests[in.Name] = in.Digest
		}
		t.Logf("%-40s %s %8d builtin=%v", in.Name, in.Digest[:19], in.Size, in.Builtin)
	}
	for _, name := range images.BuiltinNames() {
		if digests[name] == "" {
			t.Errorf("built-in %s not listed as built-in", name)
		}
	}
	// With everything present, a second EnsureBuiltins makes nothing (this was a timing
	// check, 2 s, which CI's load once broke at 4.6 s with nothing rebuilt).
	if todo, err := e.svc.BuiltinsToMake(ctx); err != nil || len(todo) != 0 {
		t.Errorf("with every built-in present, EnsureBuiltins would make %v (err %v): it should skip up-to-date images", todo, err)
	}
	start := time.Now()
	if err := e.svc.EnsureBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureBuiltins with everything present: %v", time.Since(start))
	list, _ = e.svc.List(ctx)
	for _, in := range list {
		if d, ok := digests[in.Name]; ok && d != in.Digest {
			t.Errorf("%s changed digest on rebuild: %s -> %s", in.Name, d, in.Digest)
		}
	}
}

func TestEnsureBuiltinWhateverThePolicy(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		ref    string
		policy corev1.PullPolicy
		want   string
	}{
		{"redis", corev1.PullAlways, "docker.io/library/redis:latest"},
		{"busybox", "", "docker.io/library/busybox:latest"},
		{"ghcr.io/subicura/echo:v1", corev1.PullIfNotPresent, "ghcr.io/subicura/echo:v1"},
		{"ghcr.io/subicura/counter", corev1.PullNever, "ghcr.io/subicura/counter:latest"},
	} {
		var events []string
		img, err := e.svc.Ensure(ctxNS(), tc.ref, tc.policy, func(reason, msg string) { events = append(events, reason+": "+msg) })
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if img.Name() != tc.want {
			t.Errorf("%s: got image %s, want %s", tc.ref, img.Name(), tc.want)
		}
		if len(events) != 1 || !strings.HasPrefix(events[0], "Pulled: ") || !strings.Contains(events[0], "already present") {
			t.Errorf("%s: events %q, want one Pulled already present", tc.ref, events)
		}
		if !images.IsBuiltin(tc.ref) {
			t.Errorf("IsBuiltin(%q) = false", tc.ref)
		}
	}
	if images.IsBuiltin("nginx") {
		t.Error("IsBuiltin(nginx) = true")
	}
}

func TestEnsureNeverPullMissing(t *testing.T) {
	e := setup(t)
	var events []string
	_, err := e.svc.Ensure(ctxNS(), "example.invalid/nothing:v1", corev1.PullNever, func(r, m string) { events = append(events, r) })
	ie, ok := err.(*images.Error)
	if !ok || ie.Reason != images.ReasonErrImageNeverPull {
		t.Fatalf("got %v, want ErrImageNeverPull", err)
	}
	if len(events) != 1 || events[0] != images.ReasonErrImageNeverPull {
		t.Errorf("events %v", events)
	}
	_, err = e.svc.Ensure(ctxNS(), "not a/valid:name!", corev1.PullIfNotPresent, nil)
	if ie, ok := err.(*images.Error); !ok || ie.Reason != images.ReasonInvalidImageName {
		t.Errorf("got %v, want InvalidImageName", err)
	}
}

func TestEchoImageServesHTTP(t *testing.T) {
	e := setup(t)
	img, err := e.svc.Ensure(ctxNS(), "ghcr.io/subicura/echo:v1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	_, out := runContainer(t, e, "echo-http", img, oci.WithProcessArgs("/webkube", "sample", "echo", "-port", fmt.Sprint(port)), oci.WithEnv([]string{"POD_NAME=echo"}))
	url := fmt.Sprintf("http://127.0.0.1:%d/hello?x=1", port)
	body := getWithRetry(t, url)
	for _, want := range []string{"Request: GET /hello?x=1 HTTP/1.1", "Pod: echo", "Hostname: ", "User-Agent: Go-http-client"} {
		if !strings.Contains(body, want) {
			t.Errorf("echo answer lacks %q:\n%s", want, body)
		}
	}
	if !out.waitFor("GET /hello?x=1") {
		t.Errorf("echo did not log the request; output:\n%s", out)
	}
}

func TestCounterCountsInRedis(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	redisImg, err := e.svc.Ensure(ctx, "redis", corev1.PullAlways, nil)
	if err != nil {
		t.Fatal(err)
	}
	counterImg, err := e.svc.Ensure(ctx, "ghcr.io/subicura/counter:latest", corev1.PullAlways, nil)
	if err != nil {
		t.Fatal(err)
	}
	redisPort, appPort := freePort(t), freePort(t)
	// The image's Cmd, with a test port appended: redis-server takes --port.
	_, redisOut := runContainer(t, e, "counter-db", redisImg, oci.WithProcessArgs("redis-server", "--protected-mode", "no", "--port", fmt.Sprint(redisPort)))
	runContainer(t, e, "counter-app", counterImg,
		oci.WithProcessArgs("/webkube", "sample", "counter", "-port", fmt.Sprint(appPort)),
		oci.WithEnv([]string{"REDIS_HOST=localhost", fmt.Sprintf("REDIS_PORT=%d", redisPort)}))
	url := fmt.Sprintf("http://127.0.0.1:%d/", appPort)
	first := getWithRetry(t, url)
	second := getWithRetry(t, url)
	if first != "count: 1\n" || second != "count: 2\n" {
		t.Errorf("counts %q then %q, want count: 1 then count: 2; redis output:\n%s", first, second, redisOut)
	}
}

// getWithRetry GETs url until it answers 200 (the server may still be starting), for 10 s.
func getWithRetry(t testing.TB, url string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBusyboxShell runs the busybox image's shell tools, and `ls`/`ps` in the echo image as
// `kubectl exec echo -- ls` would.
func TestBusyboxShell(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	bb, err := e.svc.Ensure(ctx, "busybox", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	task, out := runContainer(t, e, "bb-sh", bb, oci.WithProcessArgs("sh", "-c", "echo hello from $(cat /etc/hostname 2>/dev/null || echo sh); ls /bin | wc -l"))
	st := waitExit(t, task)
	if st.ExitCode() != 0 || !out.waitFor("hello from") {
		t.Fatalf("busybox sh exit %d, output %q", st.ExitCode(), out)
	}

	echoImg, err := e.svc.Ensure(ctx, "ghcr.io/subicura/echo:v1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	etask, eout := runContainer(t, e, "echo-exec", echoImg, oci.WithProcessArgs("/webkube", "sample", "echo", "-port", fmt.Sprint(port)))
	if !eout.waitFor("listening") {
		st, _ := etask.Status(ctxNS())
		t.Fatalf("echo not listening: task %+v, output %q", st, eout)
	}
	getWithRetry(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "/"}, "webkube"},
		{[]string{"ps"}, "sample echo"},
		{[]string{"sh", "-c", "wget -qO- http://127.0.0.1:" + fmt.Sprint(port) + "/from-inside"}, "GET /from-inside"},
	} {
		out := execIn(t, etask, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("exec %v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
}

func waitExit(t testing.TB, task containerd.Task) containerd.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxNS(), 10*time.Second)
	defer cancel()
	ch, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-ch:
		return st
	case <-ctx.Done():
		_ = task.Kill(ctxNS(), syscall.SIGKILL)
		t.Fatal("task did not exit in 10s")
	}
	return containerd.ExitStatus{}
}

var execN int

func execIn(t testing.TB, task containerd.Task, args ...string) string {
	t.Helper()
	ctx := ctxNS()
	spec, err := task.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := *spec.Process
	p.Args = args
	out := &output{}
	execN++
	proc, err := task.Exec(ctx, fmt.Sprintf("exec-%d", execN), &p, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Delete(ctx)
	ch, err := proc.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-ch:
		if st.ExitCode() != 0 {
			t.Errorf("exec %v: exit %d: %s", args, st.ExitCode(), out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("exec %v did not finish", args)
	}
	// The exit arrives before the output is fully copied: let the copy finish.
	proc.IO().Wait()
	return out.String()
}

func TestRemovedBuiltinIsMadeAgain(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	before, err := e.client.GetImage(ctx, "docker.io/library/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Remove(ctx, "busybox"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetImage(ctx, "docker.io/library/busybox:latest"); err == nil {
		t.Fatal("busybox still there after Remove")
	}
	img, err := e.svc.Ensure(ctx, "busybox", corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Target().Digest != before.Target().Digest {
		t.Errorf("remade busybox has digest %s, was %s", img.Target().Digest, before.Target().Digest)
	}
	if img.Labels()[images.LabelBuiltin] != "true" {
		t.Errorf("remade busybox labels %v", img.Labels())
	}
}

func TestEnsureBuiltinConcurrently(t *testing.T) {
	e := setup(t)
	errs := make(chan error, 20)
	start := time.Now()
	for i := 0; i < 20; i++ {
		go func() {
			_, err := e.svc.Ensure(ctxNS(), "ghcr.io/subicura/echo:v1", corev1.PullIfNotPresent, nil)
			errs <- err
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("20 concurrent Ensure of a built-in: %v", time.Since(start))
}

// BenchmarkEnsureBuiltin is the per-container image cost the kubelet pays for a built-in.
func BenchmarkEnsureBuiltin(b *testing.B) {
	e := setup(b)
	ctx := ctxNS()
	if _, err := e.svc.Ensure(ctx, "ghcr.io/subicura/echo:v1", "", nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.Ensure(ctx, "ghcr.io/subicura/echo:v1", "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMissingInputFailsOnlyItsImages(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	defer images.SetRedisPath("/nonexistent/redis-server")()
	svc, err := images.NewService(images.Config{Client: e.client, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.EnsureBuiltins(ctx)
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y redis-server") {
		t.Fatalf("got %v, want an error naming the redis-server package", err)
	}
	if strings.Contains(err.Error(), "busybox:") || strings.Contains(err.Error(), "echo") {
		t.Errorf("error mentions images that do not need redis: %v", err)
	}
	if _, err := svc.Ensure(ctx, "busybox", "", nil); err != nil {
		t.Errorf("busybox with redis missing: %v", err)
	}
}
