package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// builtinVersion changes whenever the way built-ins are made changes, so old ones are rebuilt.
const builtinVersion = "1"

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Host files the built-ins are made of (Debian packages busybox-static and redis-server).
var (
	busyboxPath = "/bin/busybox"
	redisPath   = "/usr/bin/redis-server"
	redisCLI    = "/usr/bin/redis-cli"
)

// builtin is one image webkube makes offline.
type builtin struct {
	Name   string // full containerd name
	layer  string // layer recipe: "sample", "redis", "busybox"
	config ocispec.ImageConfig
}

// Builtins are the sample images of the seed's examples, made without any network.
var builtins = []builtin{
	{Name: "ghcr.io/subicura/echo:v1", layer: "sample", config: ocispec.ImageConfig{
		Entrypoint:   []string{"/webkube", "sample", "echo"},
		ExposedPorts: map[string]struct{}{"3000/tcp": {}},
	}},
	{Name: "ghcr.io/subicura/counter:latest", layer: "sample", config: ocispec.ImageConfig{
		Entrypoint:   []string{"/webkube", "sample", "counter"},
		ExposedPorts: map[string]struct{}{"3000/tcp": {}},
	}},
	{Name: "docker.io/library/redis:latest", layer: "redis", config: ocispec.ImageConfig{
		Cmd:          []string{"redis-server", "--protected-mode", "no"},
		ExposedPorts: map[string]struct{}{"6379/tcp": {}},
		WorkingDir:   "/data",
	}},
	{Name: "docker.io/library/busybox:latest", layer: "busybox", config: ocispec.ImageConfig{
		Cmd: []string{"sh"},
	}},
}

// BuiltinNames lists the names served by built-in images.
func BuiltinNames() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.Name
	}
	return names
}

func builtinByName(name string) *builtin {
	for i := range builtins {
		if builtins[i].Name == name {
			return &builtins[i]
		}
	}
	return nil
}

// IsBuiltin tells whether an image reference is served by a built-in image.
func IsBuiltin(ref string) bool {
	name, err := Normalize(ref)
	return err == nil && builtinByName(name) != nil
}

// EnsureBuiltins makes every built-in image that is missing or out of date; it is quick
// when they are all there.
// Images sharing a layer are made together; a missing input (say redis-server) only
// fails the images that need it.
func (s *Service) EnsureBuiltins(ctx context.Context) error {
	var kinds []string
	groups := map[string][]*builtin{}
	for i := range builtins {
		b := &builtins[i]
		if groups[b.layer] == nil {
			kinds = append(kinds, b.layer)
		}
		groups[b.layer] = append(groups[b.layer], b)
	}
	var errs []error
	for _, k := range kinds {
		errs = append(errs, s.build(ctx, groups[k]))
	}
	return errors.Join(errs...)
}

// ensureBuiltin returns the built-in image, made if needed. Once a built-in has been found
// up to date it is only looked up: pods starting together must not wait on ldd and stat.
func (s *Service) ensureBuiltin(ctx context.Context, b *builtin) (containerd.Image, error) {
	s.mu.Lock()
	ok := s.verified[b.Name]
	s.mu.Unlock()
	if ok {
		img, err := s.unpacked(ctx, b.Name)
		if err == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
		// Someone removed it (ctr images rm): make it again.
	}
	if err := s.build(ctx, []*builtin{b}); err != nil {
		return nil, err
	}
	return s.unpacked(ctx, b.Name)
}

func (s *Service) recipe(kind string) (*layer, error) {
	l := newLayer()
	l.addBase()
	if err := l.addExecutable("/bin/busybox", busyboxPath); err != nil {
		return nil, fmt.Errorf("busybox (apt-get install -y busybox-static): %w", err)
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	l.addApplets(string(out))
	switch kind {
	case "busybox":
	case "sample":
		if err := l.addExecutable("/webkube", s.sample); err != nil {
			return nil, fmt.Errorf("sample binary: %w", err)
		}
	case "redis":
		if err := l.addExecutable("/usr/bin/redis-server", redisPath); err != nil {
			return nil, fmt.Errorf("redis (apt-get install -y redis-server): %w", err)
		}
		if _, err := os.Stat(redisCLI); err == nil {
			if err := l.addExecutable("/usr/bin/redis-cli", redisCLI); err != nil {
				return nil, err
			}
		}
		l.addDir("/data", 0o755)
	default:
		return nil, fmt.Errorf("unknown layer %q", kind)
	}
	return l, nil
}

// built is one layer written out for import.
type built struct {
	file *os.File
	desc ocispec.Descriptor
}

// build makes the given built-ins whose fingerprint differs from the image in containerd,
// as one OCI image layout imported with client.Import, then labels and unpacks them.
func (s *Service) build(ctx context.Context, list []*builtin) error {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	start := time.Now()
	todo, recipes, err := s.plan(ctx, list)
	if err != nil || len(todo) == 0 {
		return err
	}
	layers := map[string]*built{}
	defer func() {
		for _, l := range layers {
			l.file.Close()
		}
	}()
	var blobs []blob
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	for _, p := range todo {
		lb, ok := layers[p.b.layer]
		if !ok {
			f, dg, size, err := recipes[p.b.layer].writeTo(s.tmp)
			if err != nil {
				return fmt.Errorf("built-in %s: layer: %w", p.b.Name, err)
			}
			lb = &built{file: f, desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: dg, Size: size}}
			layers[p.b.layer] = lb
			blobs = append(blobs, blob{desc: lb.desc, file: f})
		}
		cfgBlob, mBlob, desc, err := imageBlobs(p.b, lb.desc)
		if err != nil {
			return err
		}
		blobs = append(blobs, cfgBlob, mBlob)
		index.Manifests = append(index.Manifests, desc)
	}
	n, err := s.importBuilt(ctx, index, blobs, todo)
	if err != nil {
		return err
	}
	s.log.Info("built-in images made", "count", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// buildPlan is one built-in image to (re)make, with the fingerprint of its recipe.
type buildPlan struct {
	b           *builtin
	fingerprint string
}

// plan lists the built-ins whose image is missing or made from another recipe, with
// the layer recipes they need; the others are marked verified.
func (s *Service) plan(ctx context.Context, list []*builtin) ([]buildPlan, map[string]*layer, error) {
	recipes := map[string]*layer{}
	var todo []buildPlan
	for _, b := range list {
		l, ok := recipes[b.layer]
		if !ok {
			var err error
			if l, err = s.recipe(b.layer); err != nil {
				return nil, nil, fmt.Errorf("built-in %s: %w", b.Name, err)
			}
			recipes[b.layer] = l
		}
		fp := fingerprint(b, l)
		if s.upToDate(ctx, b.Name, fp) {
			s.markVerified(b.Name)
			continue
		}
		todo = append(todo, buildPlan{b, fp})
	}
	return todo, recipes, nil
}

// imageBlobs makes a built-in's image config and manifest over its one layer, and the
// index entry naming it.
func imageBlobs(b *builtin, layerDesc ocispec.Descriptor) (cfgBlob, mBlob blob, desc ocispec.Descriptor, err error) {
	cfg := b.config
	cfg.Env = append([]string{defaultPath}, cfg.Env...)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	cfg.Labels = map[string]string{LabelBuiltin: "true"}
	created := layerTime
	img := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   cfg,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
		History:  []ocispec.History{{Created: &created, CreatedBy: "webkube built-in image " + b.Name}},
	}
	if cfgBlob, err = jsonBlob(ocispec.MediaTypeImageConfig, img); err != nil {
		return
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgBlob.desc,
		Layers:    []ocispec.Descriptor{layerDesc},
	}
	if mBlob, err = jsonBlob(ocispec.MediaTypeImageManifest, manifest); err != nil {
		return
	}
	desc = mBlob.desc
	desc.Platform = &img.Platform
	desc.Annotations = map[string]string{images.AnnotationImageName: b.Name}
	return cfgBlob, mBlob, desc, nil
}

// importBuilt imports the OCI layout into containerd, labels each image with its
// recipe's fingerprint (so the next start knows it is current) and unpacks it.
func (s *Service) importBuilt(ctx context.Context, index ocispec.Index, blobs []blob, todo []buildPlan) (int, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLayout(pw, index, blobs)) }()
	imgs, err := s.client.Import(ctx, pr, containerd.WithImportPlatform(platforms.Default()))
	pr.CloseWithError(errors.New("import finished"))
	if err != nil {
		return 0, fmt.Errorf("import built-in images: %w", err)
	}
	fps := map[string]string{}
	for _, p := range todo {
		fps[p.b.Name] = p.fingerprint
	}
	is := s.client.ImageService()
	for _, m := range imgs {
		m.Labels = map[string]string{LabelBuiltin: "true", labelBuiltinSource: fps[m.Name]}
		m, err = is.Update(ctx, m, "labels."+LabelBuiltin, "labels."+labelBuiltinSource)
		if err != nil {
			return 0, fmt.Errorf("label built-in %s: %w", m.Name, err)
		}
		if err := containerd.NewImageWithPlatform(s.client, m, platforms.Default()).Unpack(ctx, s.snap); err != nil {
			return 0, fmt.Errorf("unpack built-in %s: %w", m.Name, err)
		}
		s.markVerified(m.Name)
	}
	return len(imgs), nil
}

func (s *Service) markVerified(name string) {
	s.mu.Lock()
	s.verified[name] = true
	s.mu.Unlock()
}

func fingerprint(b *builtin, l *layer) string {
	h := sha256.New()
	cfg, _ := json.Marshal(b.config)
	fmt.Fprintf(h, "%s\n%s\n%s\n", builtinVersion, b.Name, cfg)
	l.fingerprint(h)
	return hex.EncodeToString(h.Sum(nil))
}

// upToDate: the image exists, was built from the same inputs and is unpacked.
func (s *Service) upToDate(ctx context.Context, name, fp string) bool {
	img, err := s.client.GetImage(ctx, name)
	if err != nil {
		if !errdefs.IsNotFound(err) {
			s.log.Warn("checking built-in image", "image", name, "err", err)
		}
		return false
	}
	if img.Labels()[labelBuiltinSource] != fp {
		return false
	}
	ok, err := img.IsUnpacked(ctx, s.snap)
	return err == nil && ok
}

// blob is one file under blobs/sha256 of an OCI layout.
type blob struct {
	desc ocispec.Descriptor
	data []byte   // small JSON blobs
	file *os.File // layers
}

func jsonBlob(mediaType string, v any) (blob, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return blob{}, err
	}
	return blob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}, data: b}, nil
}

// writeLayout writes an OCI image layout as a tar stream: oci-layout, the blobs, index.json.
func writeLayout(w io.Writer, index ocispec.Index, blobs []blob) error {
	tw := tar.NewWriter(w)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: layerTime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := add(ocispec.ImageLayoutFile, int64(len(layout)), bytesReader(layout)); err != nil {
		return err
	}
	for _, b := range blobs {
		name := "blobs/sha256/" + b.desc.Digest.Encoded()
		var err error
		if b.file != nil {
			if _, err = b.file.Seek(0, io.SeekStart); err == nil {
				err = add(name, b.desc.Size, b.file)
			}
		} else {
			err = add(name, b.desc.Size, bytesReader(b.data))
		}
		if err != nil {
			return err
		}
	}
	idx, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := add("index.json", int64(len(idx)), bytesReader(idx)); err != nil {
		return err
	}
	return tw.Close()
}
