// Package containerstest starts a real containerd for tests of the runtime packages and
// makes small busybox images in it without a registry.
package containerstest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	wkcd "webkube/runtime/containerd"
)

// Env is a running containerd with its client.
type Env struct {
	Dir    string // temp dir holding the daemon's data
	Client *containerd.Client
	Daemon *wkcd.Daemon
}

// Ctx is a context in webkube's containerd namespace.
func Ctx() context.Context {
	return namespaces.WithNamespace(context.Background(), wkcd.Namespace)
}

// Start runs containerd in a new temp dir. Call Stop when done (from TestMain).
func Start() (*Env, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("these tests run containers: run them as root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return nil, fmt.Errorf("/bin/busybox missing: apt-get install busybox-static")
	}
	dir, err := os.MkdirTemp("", "wkct-")
	if err != nil {
		return nil, err
	}
	d, err := wkcd.NewDaemon(wkcd.Config{DataDir: filepath.Join(dir, "containerd")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c, err := wkcd.Connect(ctx, d.Address(), wkcd.Namespace)
	if err != nil {
		d.Stop()
		os.RemoveAll(dir)
		return nil, err
	}
	return &Env{Dir: dir, Client: c, Daemon: d}, nil
}

// Stop deletes every container left in the namespace (killing its task), stops containerd
// and removes the temp dir.
func (e *Env) Stop() {
	ctx := Ctx()
	cs, _ := e.Client.Containers(ctx)
	for _, c := range cs {
		if t, err := c.Task(ctx, nil); err == nil {
			t.Delete(ctx, containerd.WithProcessKill)
		}
		c.Delete(ctx, containerd.WithSnapshotCleanup)
	}
	e.Client.Close()
	e.Daemon.Stop()
	// Unmount anything left (rootfs mounts of a crashed test) before removing the dir.
	exec.Command("sh", "-c", "grep -o ' "+e.Dir+"[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l").Run()
	os.RemoveAll(e.Dir)
}

// ImageConfig is the part of an image's config a test chooses.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

// busyboxApplets are linked to /bin/busybox in the test image.
var busyboxApplets = []string{"sh", "sleep", "echo", "cat", "env", "pwd", "ls", "nc", "wget", "hostname",
	"head", "tail", "seq", "yes", "dd", "true", "false", "printf", "kill", "id", "tr", "stty", "httpd", "ps", "mkdir", "touch", "grep", "wc"}

// Busybox imports an image named name holding busybox-static and its applets, with cfg as
// its config, and unpacks it for overlayfs.
func (e *Env) Busybox(ctx context.Context, name string, cfg ImageConfig) (containerd.Image, error) {
	if img, err := e.Client.GetImage(ctx, name); err == nil {
		return img, nil
	}
	// A lease keeps the blobs from the garbage collector until the image refers to them.
	ctx, done, err := e.Client.WithLease(ctx)
	if err != nil {
		return nil, err
	}
	defer done(ctx)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	now := time.Unix(0, 0)
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root", "var"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: now})
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb)), ModTime: now})
	tw.Write(bb)
	for _, a := range busyboxApplets {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: now})
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd)), ModTime: now})
	tw.Write(passwd)
	tw.Close()

	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	layerDigest := digest.FromBytes(layer.Bytes())
	imgCfg, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		Config:   ocispec.ImageConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, WorkingDir: cfg.WorkingDir},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDigest}},
	})
	layerDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: layerDigest, Size: int64(layer.Len())}
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(imgCfg), Size: int64(len(imgCfg))}
	manifest, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	manDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}

	cs := e.Client.ContentStore()
	for _, b := range []struct {
		desc   ocispec.Descriptor
		data   []byte
		labels map[string]string
	}{
		{layerDesc, layer.Bytes(), nil},
		{cfgDesc, imgCfg, nil},
		// The manifest's GC labels keep its config and layer alive.
		{manDesc, manifest, map[string]string{
			"containerd.io/gc.ref.content.config": cfgDesc.Digest.String(),
			"containerd.io/gc.ref.content.l.0":    layerDesc.Digest.String(),
		}},
	} {
		if err := content.WriteBlob(ctx, cs, b.desc.Digest.String(), bytes.NewReader(b.data), b.desc, content.WithLabels(b.labels)); err != nil {
			return nil, fmt.Errorf("write blob: %w", err)
		}
	}
	rec, err := e.Client.ImageService().Create(ctx, images.Image{Name: name, Target: manDesc})
	if err != nil {
		return nil, fmt.Errorf("create image: %w", err)
	}
	img := containerd.NewImage(e.Client, rec)
	if err := img.Unpack(ctx, "overlayfs"); err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	return img, nil
}
