package images_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images/archive"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"

	"webkube/runtime/images"
)

// startRegistry runs Debian's docker-registry on a free loopback port and returns host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	return startRegistryWith(t, "")
}

// startRegistryWith is startRegistry with more configuration (YAML at the top level).
func startRegistryWith(t *testing.T, extra string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry missing: apt-get install -y docker-registry")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "config.yml"), fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: webkube-test
%s`, filepath.Join(dir, "data"), addr, extra))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 { // 401: it wants a password
				return addr
			}
		}
		if i == 200 {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("registry did not start: %v\n%s", err, log)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestPullFromLocalRegistry(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	reg := startRegistry(t)

	// Push the busybox built-in into the registry as library/mirrored:v1.
	bb, err := e.client.GetImage(ctx, "docker.io/library/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.Push(ctx, reg+"/library/mirrored:v1", bb.Target(), containerd.WithResolver(e.svc.Resolver())); err != nil {
		t.Fatalf("push: %v", err)
	}

	svc, err := images.NewService(images.Config{Client: e.client, Logger: quietLogger(),
		Mirrors: map[string]string{"docker.io": "http://" + reg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{"docker.io/library/mirrored:v1", reg + "/library/mirrored:v1"} {
			_ = e.client.ImageService().Delete(ctx, n)
		}
	})

	t.Run("OK/Mirror", func(t *testing.T) {
		var events []string
		img, err := svc.Ensure(ctx, "mirrored:v1", corev1.PullIfNotPresent, func(r, m string) { events = append(events, r+": "+m) })
		if err != nil {
			t.Fatal(err)
		}
		if img.Name() != "docker.io/library/mirrored:v1" || img.Target().Digest != bb.Target().Digest {
			t.Errorf("pulled %s %s, want docker.io/library/mirrored:v1 %s", img.Name(), img.Target().Digest, bb.Target().Digest)
		}
		if len(events) != 2 || !strings.HasPrefix(events[0], "Pulling: ") || !strings.HasPrefix(events[1], "Pulled: Successfully pulled") {
			t.Errorf("events %q", events)
		}
		if ok, err := img.IsUnpacked(ctx, images.DefaultSnapshotter); err != nil || !ok {
			t.Errorf("not unpacked: %v", err)
		}
		// Present now: IfNotPresent does not pull again.
		events = nil
		if _, err := svc.Ensure(ctx, "mirrored:v1", corev1.PullIfNotPresent, func(r, m string) { events = append(events, r+": "+m) }); err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || !strings.Contains(events[0], "already present") {
			t.Errorf("second Ensure events %q", events)
		}
		// The pulled image runs.
		task, out := runContainer(t, e, "pulled-run", img, oci.WithProcessArgs("sh", "-c", "echo pulled-ok"))
		if st := waitExit(t, task); st.ExitCode() != 0 || !out.waitFor("pulled-ok") {
			t.Errorf("pulled image run: exit %d output %q", st.ExitCode(), out)
		}
	})

	t.Run("OK/LocalhostPlainHTTP", func(t *testing.T) {
		img, err := e.svc.Ensure(ctx, reg+"/library/mirrored:v1", corev1.PullAlways, nil)
		if err != nil {
			t.Fatal(err)
		}
		if img.Target().Digest != bb.Target().Digest {
			t.Errorf("digest %s, want %s", img.Target().Digest, bb.Target().Digest)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, tc := range []struct {
			svc *images.Service
			ref string
		}{{svc, "missing:v1"}, {e.svc, reg + "/library/missing:v1"}} {
			var events []string
			_, err := tc.svc.Ensure(ctx, tc.ref, corev1.PullIfNotPresent, func(r, m string) { events = append(events, r) })
			ie, ok := err.(*images.Error)
			if !ok || ie.Reason != images.ReasonErrImagePull {
				t.Fatalf("%s: got %v, want an ErrImagePull", tc.ref, err)
			}
			if !strings.Contains(ie.Message, "not found") || !strings.Contains(ie.Message, tc.ref) {
				t.Errorf("%s: message lacks the registry's reason: %s", tc.ref, ie.Message)
			}
			if strings.Join(events, ",") != "Pulling,Failed" {
				t.Errorf("%s: events %v", tc.ref, events)
			}
			t.Logf("%s: %s", tc.ref, ie.Message)
		}
	})

	t.Run("ErrRegistryDown", func(t *testing.T) {
		down := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		_, err := e.svc.Ensure(ctx, down+"/library/x:v1", corev1.PullIfNotPresent, nil)
		if ie, ok := err.(*images.Error); !ok || !strings.Contains(ie.Message, "connection refused") {
			t.Errorf("got %v, want ErrImagePull with connection refused", err)
		}
	})
}

func TestImportOCIAndDockerSave(t *testing.T) {
	e := setup(t)
	ctx := ctxNS()
	is := e.client.ImageService()

	t.Run("OCI", func(t *testing.T) {
		// Export busybox under another name, forget it, import it back.
		bb, err := is.Get(ctx, "docker.io/library/busybox:latest")
		if err != nil {
			t.Fatal(err)
		}
		bb.Name = "example.com/exported:v1"
		bb.Labels = nil
		if _, err := is.Create(ctx, bb); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := e.client.Export(ctx, &buf, archive.WithImage(is, bb.Name), archive.WithPlatform(platforms.Default())); err != nil {
			t.Fatal(err)
		}
		if err := is.Delete(ctx, bb.Name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = is.Delete(ctx, bb.Name) })
		names, err := e.svc.Import(ctx, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if !contains(names, bb.Name) {
			t.Fatalf("imported %v, want %s", names, bb.Name)
		}
		img, err := e.svc.Ensure(ctx, bb.Name, corev1.PullIfNotPresent, nil)
		if err != nil {
			t.Fatal(err)
		}
		task, out := runContainer(t, e, "imported-run", img, oci.WithProcessArgs("sh", "-c", "echo imported-ok"))
		if st := waitExit(t, task); st.ExitCode() != 0 || !out.waitFor("imported-ok") {
			t.Errorf("imported image run: exit %d output %q", st.ExitCode(), out)
		}
	})

	t.Run("DockerSave", func(t *testing.T) {
		tarball := dockerSave(t, "example.com/saved:v1", map[string]string{"hello.txt": "hi\n"})
		names, err := e.svc.Import(ctx, bytes.NewReader(tarball))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, n := range names {
				_ = is.Delete(ctx, n)
			}
		})
		if !contains(names, "example.com/saved:v1") {
			t.Fatalf("imported %v, want example.com/saved:v1", names)
		}
		list, err := e.svc.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.Name == "example.com/saved:v1" && in.Builtin {
				t.Error("an imported image is listed as built-in")
			}
		}
		img, err := e.client.GetImage(ctx, "example.com/saved:v1")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := img.IsUnpacked(ctx, images.DefaultSnapshotter); err != nil || !ok {
			t.Errorf("docker-save import not unpacked: %v %v", ok, err)
		}
	})

	t.Run("Unnamed", func(t *testing.T) {
		names, err := e.svc.Import(ctx, bytes.NewReader(dockerSave(t, "", map[string]string{"x": "unnamed\n"})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, n := range names {
				_ = is.Delete(ctx, n)
			}
		})
		if len(names) != 1 || !strings.HasPrefix(names[0], "docker.io/library/import@sha256:") {
			t.Fatalf("imported %v, want one docker.io/library/import@sha256:... name", names)
		}
		// A pod names it the short way.
		short := strings.TrimPrefix(names[0], "docker.io/library/")
		if _, err := e.svc.Ensure(ctx, short, corev1.PullIfNotPresent, nil); err != nil {
			t.Errorf("Ensure(%s): %v", short, err)
		}
	})

	t.Run("ErrGarbage", func(t *testing.T) {
		if _, err := e.svc.Import(ctx, strings.NewReader("this is not a tarball")); err == nil {
			t.Error("importing garbage succeeded")
		}
	})
}

// dockerSave writes a `docker save` tarball by hand: manifest.json, the config, one layer.
func dockerSave(t *testing.T, tag string, files map[string]string) []byte {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	for name, data := range files {
		if err := lw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		lw.Write([]byte(data))
	}
	lw.Close()
	diffID := digest.FromBytes(layer.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/hello"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}},
	})
	configName := digest.FromBytes(config).Encoded() + ".json"
	layerName := diffID.Encoded() + "/layer.tar"
	var tags []string
	if tag != "" {
		tags = []string{tag}
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": tags, "Layers": []string{layerName}}})

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{configName, config}, {layerName, layer.Bytes()}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	return out.Bytes()
}
