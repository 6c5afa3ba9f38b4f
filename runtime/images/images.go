// Package images gives the kubelet its container images: the ones present in containerd,
// pulled from registries (with plain-HTTP mirrors for a local registry), imported from
// tarballs, and the built-in sample images webkube makes offline (see README.md).
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images/archive"
	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
)

const (
	// LabelBuiltin marks the images webkube builds itself.
	LabelBuiltin = "webkube.io/builtin"
	// labelBuiltinSource fingerprints a built-in's inputs, to skip rebuilding it.
	labelBuiltinSource = "webkube.io/builtin-source"
	// DefaultSnapshotter is the snapshotter images are unpacked into; the kubelet creates
	// container snapshots with the same one.
	DefaultSnapshotter = "overlayfs"
)

// Reasons a failed Ensure gives, as the kubelet shows them in container statuses.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
)

// Error is a failed Ensure: Reason is the container waiting reason, Message what kubectl
// describe shows (it carries the registry's own words, e.g. "not found").
type Error struct {
	Reason  string
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Config configures a Service.
type Config struct {
	Client *containerd.Client // in webkube's containerd namespace (its default namespace)
	Logger *slog.Logger
	// Snapshotter to unpack into; default overlayfs.
	Snapshotter string
	// Mirrors maps a registry host ("docker.io", "ghcr.io", "registry.local:5000") to the
	// URL that serves it, e.g. "http://127.0.0.1:5000". Pulls of that host go only there.
	Mirrors map[string]string
	// SampleBinary is the executable copied into the echo and counter images, run as
	// `/webkube sample echo|counter`; default os.Executable().
	SampleBinary string
	// TempDir holds layers while built-ins are built; default os.TempDir().
	TempDir string
	// PullTimeout bounds one pull; default 5 minutes.
	PullTimeout time.Duration
}

// Service finds, pulls, imports and builds images in containerd.
type Service struct {
	client  *containerd.Client
	log     *slog.Logger
	snap    string
	mirrors map[string]*url.URL
	sample  string
	tmp     string
	timeout time.Duration
	http    *http.Client

	buildMu sync.Mutex // one built-in build at a time

	mu       sync.Mutex
	verified map[string]bool // built-ins checked up to date since we started
	pulls    singleflight.Group
}

// NewService checks the configuration.
func NewService(cfg Config) (*Service, error) {
	if cfg.Client == nil {
		return nil, errors.New("images: Client is required")
	}
	s := &Service{
		client:   cfg.Client,
		log:      cfg.Logger,
		snap:     cfg.Snapshotter,
		mirrors:  map[string]*url.URL{},
		verified: map[string]bool{},
		sample:   cfg.SampleBinary,
		tmp:      cfg.TempDir,
		timeout:  cfg.PullTimeout,
		http:     &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second, TLSHandshakeTimeout: 10 * time.Second}},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "images")
	if s.snap == "" {
		s.snap = DefaultSnapshotter
	}
	if s.timeout == 0 {
		s.timeout = 5 * time.Minute
	}
	if s.sample == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("images: sample binary: %w", err)
		}
		s.sample = exe
	}
	for host, raw := range cfg.Mirrors {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("images: mirror for %s: want http(s)://host[:port], got %q", host, raw)
		}
		switch host {
		case "index.docker.io", "registry-1.docker.io":
			host = "docker.io" // how image names spell Docker Hub
		}
		s.mirrors[host] = u
	}
	return s, nil
}

// ParseMirror parses one --registry-mirror flag value "HOST=URL".
func ParseMirror(v string) (host, u string, err error) {
	host, u, ok := strings.Cut(v, "=")
	if !ok || host == "" || u == "" {
		return "", "", fmt.Errorf("registry mirror %q: want HOST=URL, e.g. docker.io=http://127.0.0.1:5000", v)
	}
	return host, u, nil
}

// Normalize turns an image name as written in a pod ("redis", "ghcr.io/subicura/echo:v1")
// into containerd's full name ("docker.io/library/redis:latest").
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// Ensure makes ref available, as the kubelet does before creating a container: a built-in
// name is always served by the built-in image (this machine may be offline); otherwise the
// pull policy decides between the local image and a pull. onEvent (may be nil) receives the
// events the kubelet records: Pulling, Pulled, Failed, ErrImageNeverPull. A failure is an *Error.
func (s *Service) Ensure(ctx context.Context, ref string, policy corev1.PullPolicy, onEvent func(reason, msg string)) (containerd.Image, error) {
	return s.EnsureWithAuth(ctx, ref, policy, nil, onEvent)
}

// EnsureWithAuth is Ensure with registry credentials (a pod's imagePullSecrets) for a pull.
func (s *Service) EnsureWithAuth(ctx context.Context, ref string, policy corev1.PullPolicy, auth Auth, onEvent func(reason, msg string)) (containerd.Image, error) {
	if onEvent == nil {
		onEvent = func(string, string) {}
	}
	name, err := Normalize(ref)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", ref, err)
		onEvent("InspectFailed", msg)
		return nil, &Error{Reason: ReasonInvalidImageName, Message: msg, Err: err}
	}
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if strings.HasSuffix(name, ":latest") {
			policy = corev1.PullAlways
		}
	}
	if b := builtinByName(name); b != nil {
		img, err := s.ensureBuiltin(ctx, b)
		if err != nil {
			msg := fmt.Sprintf("Failed to build built-in image %q: %v", ref, err)
			onEvent("Failed", msg)
			return nil, &Error{Reason: ReasonErrImagePull, Message: msg, Err: err}
		}
		onEvent("Pulled", fmt.Sprintf("Container image %q already present on machine (webkube built-in)", ref))
		return img, nil
	}
	if policy != corev1.PullAlways {
		img, err := s.unpacked(ctx, name)
		if err == nil {
			onEvent("Pulled", fmt.Sprintf("Container image %q already present on machine", ref))
			return img, nil
		}
		if !errdefs.IsNotFound(err) {
			return nil, &Error{Reason: ReasonErrImagePull, Message: err.Error(), Err: err}
		}
		if policy == corev1.PullNever {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", ref)
			onEvent(ReasonErrImageNeverPull, msg)
			return nil, &Error{Reason: ReasonErrImageNeverPull, Message: msg, Err: err}
		}
	}
	onEvent("Pulling", fmt.Sprintf("Pulling image %q", ref))
	start := time.Now()
	// Pods starting together with the same image share one pull.
	v, err, _ := s.pulls.Do(name+auth.key(), func() (any, error) { return s.pull(ctx, name, auth) })
	if err != nil {
		msg := fmt.Sprintf("Failed to pull image %q: %v", ref, err)
		onEvent("Failed", msg)
		return nil, &Error{Reason: ReasonErrImagePull, Message: msg, Err: err}
	}
	img := v.(containerd.Image)
	size, _ := img.Size(ctx)
	d := time.Since(start).Round(time.Millisecond)
	onEvent("Pulled", fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", ref, d, d, size))
	return img, nil
}

// unpacked returns the image called name if it is present and unpacked into our
// snapshotter, unpacking it if needed; a NotFound error when it is absent.
func (s *Service) unpacked(ctx context.Context, name string) (containerd.Image, error) {
	img, err := s.client.GetImage(ctx, name)
	if err != nil {
		return nil, err
	}
	ok, err := img.IsUnpacked(ctx, s.snap)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	if !ok {
		if err := img.Unpack(ctx, s.snap); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", name, err)
		}
	}
	return img, nil
}

// Pull fetches a fully normalized name from its registry (or its mirror) and unpacks it.
func (s *Service) Pull(ctx context.Context, name string) (containerd.Image, error) {
	return s.pull(ctx, name, nil)
}

func (s *Service) pull(ctx context.Context, name string, auth Auth) (containerd.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: s.hostsWith(auth)})
	img, err := s.client.Pull(ctx, name,
		containerd.WithResolver(resolver),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(s.snap),
		containerd.WithPlatformMatcher(platforms.Default()))
	if err != nil {
		return nil, err
	}
	s.log.Info("pulled image", "image", name)
	return img, nil
}

// hosts tells the resolver where a registry host is served: at its mirror only when one is
// configured, else at the registry itself (plain HTTP for localhost).
func (s *Service) hosts(host string) ([]docker.RegistryHost, error) {
	return s.hostsWith(nil)(host)
}

// hostsWith is hosts with credentials: the authorizer answers a registry's 401 challenge
// with the user and password auth holds for that host.
func (s *Service) hostsWith(auth Auth) docker.RegistryHosts {
	return func(host string) ([]docker.RegistryHost, error) { return s.registryHosts(host, auth) }
}

func (s *Service) registryHosts(host string, auth Auth) ([]docker.RegistryHost, error) {
	authorizer := docker.NewDockerAuthorizer(docker.WithAuthClient(s.http), docker.WithAuthCreds(auth.credentials))
	if u, ok := s.mirrors[host]; ok {
		return []docker.RegistryHost{{
			Client:       s.http,
			Host:         u.Host,
			Scheme:       u.Scheme,
			Path:         strings.TrimSuffix(u.Path, "/") + "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve | docker.HostCapabilityPush,
			Authorizer:   authorizer,
		}}, nil
	}
	return docker.ConfigureDefaultRegistries(
		docker.WithClient(s.http),
		docker.WithPlainHTTP(docker.MatchLocalhost),
		docker.WithAuthorizer(authorizer),
	)(host)
}

// Resolver is the registry resolver Pull uses, for pushing in tests and tools.
func (s *Service) Resolver() remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{Hosts: s.hosts})
}

// ResolverWithAuth is Resolver with credentials (to push to a registry that wants them).
func (s *Service) ResolverWithAuth(auth Auth) remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{Hosts: s.hostsWith(auth)})
}

// Import loads an OCI image layout or `docker save` tarball, unpacks its images and returns
// their names. An image without a name in the archive is called
// docker.io/library/import@sha256:<digest>, which a pod can write as import@sha256:<digest>.
func (s *Service) Import(ctx context.Context, r io.Reader) ([]string, error) {
	imgs, err := s.client.Import(ctx, r,
		containerd.WithImportPlatform(platforms.Default()),
		containerd.WithDigestRef(archive.DigestTranslator("docker.io/library/import")),
		containerd.WithSkipDigestRef(func(name string) bool { return name != "" }))
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	var names []string
	for _, m := range imgs {
		img := containerd.NewImageWithPlatform(s.client, m, platforms.Default())
		if err := img.Unpack(ctx, s.snap); err != nil {
			return names, fmt.Errorf("unpack %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}
	s.log.Info("imported images", "images", names)
	return names, nil
}

// Remove deletes an image by name; a removed built-in is made again when next needed.
func (s *Service) Remove(ctx context.Context, ref string) error {
	name, err := Normalize(ref)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.verified, name)
	s.mu.Unlock()
	if err := s.client.ImageService().Delete(ctx, name); err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	return nil
}

// Info describes one image for `webkube image list` and the dashboard.
type Info struct {
	Name    string
	Digest  string
	Size    int64 // bytes of content (compressed layers, config, manifest)
	Builtin bool
	Created time.Time
}

// List returns the images in containerd, sorted by name.
func (s *Service) List(ctx context.Context) ([]Info, error) {
	imgs, err := s.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Info, 0, len(imgs))
	for _, img := range imgs {
		m := img.Metadata()
		size, _ := img.Size(ctx)
		out = append(out, Info{
			Name:    m.Name,
			Digest:  m.Target.Digest.String(),
			Size:    size,
			Builtin: m.Labels[LabelBuiltin] == "true",
			Created: m.CreatedAt,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
