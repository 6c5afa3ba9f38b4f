package images_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	wkcd "webkube/runtime/containerd"
	"webkube/runtime/images"
	"webkube/runtime/images/samples/counter"
	"webkube/runtime/images/samples/echo"
)

// TestMain doubles as the sample binary put in the echo and counter images: the image runs
// `/webkube sample echo`, which is this test binary called with those arguments.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "sample" {
		var err error
		switch os.Args[2] {
		case "echo":
			err = echo.Main(os.Args[3:])
		case "counter":
			err = counter.Main(os.Args[3:])
		default:
			err = fmt.Errorf("unknown sample %q", os.Args[2])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	env.stop()
	os.Exit(code)
}

// testEnv is one containerd daemon shared by the package's tests.
type testEnv struct {
	once   sync.Once
	err    error
	dir    string
	daemon *wkcd.Daemon
	client *containerd.Client
	svc    *images.Service
}

var env testEnv

func (e *testEnv) stop() {
	if e.client != nil {
		e.client.Close()
	}
	if e.daemon != nil {
		e.daemon.Stop()
	}
	if e.dir != "" {
		_ = syscall.Unmount(e.dir, syscall.MNT_DETACH) // nothing is mounted there normally
		os.RemoveAll(e.dir)
	}
}

func ctxNS() context.Context {
	return namespaces.WithNamespace(context.Background(), wkcd.Namespace)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// setup starts the shared daemon and image service (with built-ins made) once.
func setup(t testing.TB) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (containerd, runc)")
	}
	env.once.Do(func() {
		env.dir, env.err = os.MkdirTemp("", "wkimg")
		if env.err != nil {
			return
		}
		env.daemon, env.err = wkcd.NewDaemon(wkcd.Config{DataDir: env.dir, Logger: quietLogger()})
		if env.err != nil {
			return
		}
		if env.err = env.daemon.Start(context.Background()); env.err != nil {
			return
		}
		env.client, env.err = wkcd.Connect(ctxNS(), env.daemon.Address(), wkcd.Namespace)
		if env.err != nil {
			return
		}
		self, err := os.Executable()
		if err != nil {
			env.err = err
			return
		}
		env.svc, env.err = images.NewService(images.Config{Client: env.client, Logger: quietLogger(), SampleBinary: self})
		if env.err != nil {
			return
		}
		start := time.Now()
		env.err = env.svc.EnsureBuiltins(ctxNS())
		fmt.Printf("built-in images made in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if env.err != nil {
		t.Fatal(env.err)
	}
	return &env
}

// container runs image with the given options in the host network namespace, its output to
// a file, and returns the task and a cleanup.
func runContainer(t testing.TB, e *testEnv, id string, img containerd.Image, opts ...oci.SpecOpts) (containerd.Task, *output) {
	t.Helper()
	ctx := ctxNS()
	specOpts := append([]oci.SpecOpts{oci.WithImageConfig(img), oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostHostsFile, oci.WithHostResolvconf}, opts...)
	c, err := e.client.NewContainer(ctx, id,
		wkcd.WithRuntime(e.dir),
		containerd.WithImage(img),
		containerd.WithSnapshotter(images.DefaultSnapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(specOpts...))
	if err != nil {
		t.Fatal(err)
	}
	out := &output{}
	task, err := c.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
	})
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return task, out
}

// output collects a container's stdout and stderr, copied in by containerd's fifo goroutines.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits up to 5 s for s to appear in the output.
func (o *output) waitFor(s string) bool {
	for i := 0; i < 100; i++ {
		if strings.Contains(o.String(), s) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
