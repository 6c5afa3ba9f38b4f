// Package containerd runs webkube's own containerd daemon as a child process and connects
// clients to it. Everything the daemon writes (root, state, sockets, log) lives under one
// data directory, so it never collides with another containerd on the machine, and webkube's
// containers live in their own containerd namespace with their own runc root.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/namespaces"
	"k8s.io/utils/clock"
)

const (
	// Namespace is the containerd namespace holding webkube's images and containers.
	Namespace = "webkube"
	// RuntimeName is the shim webkube runs containers with.
	RuntimeName = "io.containerd.runc.v2"
	// runcRootDir is where runc keeps container state, relative to the data dir; a root of
	// our own keeps `runc list` of other containerds (and theirs of ours) apart.
	runcRootDir = "runc"
)

// ErrNotRoot is returned when webkube is not running as root.
var ErrNotRoot = errors.New("webkube needs root to run containers (containerd, runc, network namespaces)")

// RuncRoot is the runc state directory webkube uses under dataDir.
func RuncRoot(dataDir string) string { return filepath.Join(dataDir, runcRootDir) }

// RuncOptions are the runc options every webkube container is created with.
func RuncOptions(dataDir string) *options.Options {
	return &options.Options{Root: RuncRoot(dataDir)}
}

// WithRuntime is the NewContainerOpts selecting runc with webkube's runc root.
func WithRuntime(dataDir string) containerd.NewContainerOpts {
	return containerd.WithRuntime(RuntimeName, RuncOptions(dataDir))
}

// Connect dials a containerd at address and checks that it serves. Calls made with the
// returned client use namespace unless their context names another one.
func Connect(ctx context.Context, address, namespace string) (*containerd.Client, error) {
	// gRPC keeps redialing a unix socket that is not there; fail at once instead.
	if path, ok := strings.CutPrefix(address, "unix://"); ok || !strings.Contains(address, "://") {
		if !ok {
			path = address
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
		}
	}
	client, err := containerd.New(address,
		containerd.WithDefaultNamespace(namespace),
		containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	serving, err := client.IsServing(namespaces.WithNamespace(ctx, namespace))
	if err != nil || !serving {
		client.Close()
		if err == nil {
			err = errors.New("not serving")
		}
		return nil, fmt.Errorf("containerd at %s: %w", address, err)
	}
	return client, nil
}

// Config configures a Daemon.
type Config struct {
	// DataDir holds the daemon's config.toml, root, state, sockets and log. Required.
	DataDir string
	Logger  *slog.Logger
	// Binary is the containerd executable; default "containerd" looked up in PATH.
	Binary string
	// ReadyTimeout bounds how long Start waits for the socket to serve; default 20s.
	ReadyTimeout time.Duration
	// RestartDelay is the first wait before restarting a containerd that exited on its
	// own; it doubles on every exit that comes within a minute of the start, up to
	// MaxRestartDelay. Defaults 1s and 30s.
	RestartDelay, MaxRestartDelay time.Duration
	// Clock times the restart back-off; default the real clock.
	Clock clock.Clock
}

// Daemon is a containerd child process.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	binary  string
	dir     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been reaped
	logFile *os.File
	started time.Time
	down    error              // why containerd is not serving, while the supervisor restarts it
	cancel  context.CancelFunc // ends the supervisor; set while started
}

// NewDaemon checks the configuration and the environment: root and the Debian binaries.
func NewDaemon(cfg Config) (*Daemon, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("containerd: DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("containerd data dir: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Binary == "" {
		cfg.Binary = "containerd"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 20 * time.Second
	}
	if cfg.RestartDelay == 0 {
		cfg.RestartDelay = time.Second
	}
	if cfg.MaxRestartDelay == 0 {
		cfg.MaxRestartDelay = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	// A unix socket path holds at most 107 bytes; the ttrpc socket is the longest.
	if n := len(filepath.Join(dir, "containerd.sock.ttrpc")); n > 107 {
		return nil, fmt.Errorf("containerd data dir %s is too long for its sockets (%d > 107 bytes): choose a shorter --data-dir", dir, n)
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := CheckBinaries(); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("containerd binary %q not found: apt-get install -y containerd runc", cfg.Binary)
	}
	return &Daemon{cfg: cfg, log: cfg.Logger.With("component", "containerd"), binary: bin, dir: dir}, nil
}

// CheckBinaries reports the Debian packages to install when the containerd shim or runc is
// missing; both are needed whether webkube starts containerd or uses an existing one.
func CheckBinaries() error {
	var missing []string
	for _, b := range []struct{ bin, pkg string }{
		{"containerd", "containerd"},
		{"containerd-shim-runc-v2", "containerd"},
		{"runc", "runc"},
	} {
		if _, err := exec.LookPath(b.bin); err != nil {
			missing = append(missing, b.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("containerd or runc not found in PATH: apt-get install -y %s", strings.Join(dedup(missing), " "))
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Address is the daemon's gRPC socket.
func (d *Daemon) Address() string { return filepath.Join(d.dir, "containerd.sock") }

// DataDir is the daemon's absolute data directory (the runc root lives under it).
func (d *Daemon) DataDir() string { return d.dir }

func (d *Daemon) configPath() string { return filepath.Join(d.dir, "config.toml") }
func (d *Daemon) pidPath() string    { return filepath.Join(d.dir, "containerd.pid") }

// LogPath is the file receiving the daemon's stderr.
func (d *Daemon) LogPath() string { return filepath.Join(d.dir, "containerd.log") }

// config renders config.toml. Every path the daemon writes is under the data dir, the CRI
// plugin (which would want /etc/cni and its own sockets) is off, and there is no debug or
// metrics listener; snapshotters that need special filesystems are off so startup is quiet.
func (d *Daemon) config() string {
	q := strconv.Quote
	return fmt.Sprintf(`# Generated by webkube; rewritten on every start.
version = 2
root = %s
state = %s
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %s
`, q(filepath.Join(d.dir, "root")), q(filepath.Join(d.dir, "state")),
		q(d.Address()), q(d.Address()+".ttrpc"), q(filepath.Join(d.dir, "opt")))
}

// Start writes the config, starts containerd and returns once its socket serves. ctx bounds
// only that wait: containerd runs until Stop, or until webkube's process dies. Should it
// exit before, it is restarted with back-off (see Health).
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil || d.cancel != nil {
		return errors.New("containerd already started")
	}
	if err := os.MkdirAll(d.dir, 0o711); err != nil {
		return fmt.Errorf("containerd data dir: %w", err)
	}
	if err := os.MkdirAll(RuncRoot(d.dir), 0o711); err != nil {
		return fmt.Errorf("runc root: %w", err)
	}
	if err := os.WriteFile(d.configPath(), []byte(d.config()), 0o644); err != nil {
		return fmt.Errorf("write containerd config: %w", err)
	}
	// A containerd left behind by a webkube that was killed before Pdeathsig could act
	// would hold the bolt database lock; stop it (the shims and containers stay).
	d.stopStale()
	if err := d.spawnLocked(ctx); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.supervise(sctx, d.cmd, d.exited)
	return nil
}

// spawnLocked starts the containerd process and waits until it serves.
func (d *Daemon) spawnLocked(ctx context.Context) error {
	logFile, err := os.OpenFile(d.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("containerd log: %w", err)
	}
	cmd := exec.Command(d.binary, "--config", d.configPath())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "PATH="+withSbin(os.Getenv("PATH")))
	// Own process group: a Ctrl-C in webkube's terminal is webkube's to handle, not
	// containerd's. Pdeathsig: if webkube dies, containerd shuts down cleanly; the shims it
	// started are in process groups of their own and keep the containers running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	// Pdeathsig fires when the OS *thread* that started the child ends, and Go ends a thread
	// whenever a goroutine exits while locked to it (containerd's netns package does so for
	// every pod). So start containerd from a goroutine that holds its thread until
	// containerd exits.
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return fmt.Errorf("start containerd: %w", err)
	}
	_ = os.WriteFile(d.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	d.cmd, d.exited, d.logFile, d.started = cmd, exited, logFile, d.cfg.Clock.Now()

	if err := d.waitReady(ctx, exited); err != nil {
		d.stopLocked()
		return err
	}
	d.log.Info("containerd ready", "address", d.Address(), "pid", cmd.Process.Pid, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// supervise restarts containerd when it exits on its own, waiting RestartDelay, doubled
// for every exit within a minute of its start, up to MaxRestartDelay. Stop ends it.
func (d *Daemon) supervise(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}) {
	delay := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		d.mu.Lock()
		if ctx.Err() != nil || d.cmd != cmd {
			d.mu.Unlock()
			return // stopped on purpose
		}
		if d.cfg.Clock.Since(d.started) >= time.Minute || delay == 0 {
			delay = d.cfg.RestartDelay
		} else {
			delay = min(2*delay, d.cfg.MaxRestartDelay)
		}
		d.down = fmt.Errorf("containerd exited (%v), restarting it", cmd.ProcessState)
		d.log.Error("containerd exited; restarting it", "pid", cmd.Process.Pid, "state", cmd.ProcessState.String(), "in", delay, "log", d.LogPath())
		d.logFile.Close()
		d.cmd = nil
		d.mu.Unlock()

		for {
			select {
			case <-ctx.Done():
				return
			case <-d.cfg.Clock.After(delay):
			}
			d.mu.Lock()
			if ctx.Err() != nil {
				d.mu.Unlock()
				return
			}
			err := d.spawnLocked(ctx)
			if err == nil {
				d.down = nil
				cmd, exited = d.cmd, d.exited
				d.mu.Unlock()
				break
			}
			d.down = fmt.Errorf("containerd exited, restarting it failed: %w", err)
			d.mu.Unlock()
			delay = min(2*delay, d.cfg.MaxRestartDelay)
			d.log.Error("restarting containerd failed", "err", err, "retry in", delay)
		}
	}
}

// Health is nil while containerd runs, and says why not while the supervisor restarts it.
func (d *Daemon) Health() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down != nil {
		return d.down
	}
	if d.cmd == nil {
		return errors.New("containerd is not running")
	}
	return nil
}

func withSbin(path string) string {
	for _, p := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if !strings.Contains(":"+path+":", ":"+p+":") {
			path += ":" + p
		}
	}
	return strings.TrimPrefix(path, ":")
}

func (d *Daemon) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(d.Address()); err == nil {
			c, err := Connect(ctx, d.Address(), Namespace)
			if err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("containerd exited during startup: %s (log: %s)", d.logTail(), d.LogPath())
		case <-ctx.Done():
			return fmt.Errorf("containerd not serving at %s: %w (log: %s)", d.Address(), ctx.Err(), d.LogPath())
		case <-tick.C:
		}
	}
}

// logTail returns the last few lines of the daemon log for error messages.
func (d *Daemon) logTail() string {
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

// stopStale terminates a containerd recorded in the pid file if it still runs with our config.
func (d *Daemon) stopStale() {
	b, err := os.ReadFile(d.pidPath())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), d.configPath()) {
		return // gone, or the pid was reused by something else
	}
	d.log.Warn("stopping containerd left from a previous run", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// Stop shuts containerd down: SIGTERM, then SIGKILL after 10 s. Containers keep running in
// their shims; the next Start reattaches to them.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
	d.down = nil
	d.stopLocked()
}

func (d *Daemon) stopLocked() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.log.Warn("containerd did not stop on SIGTERM; killing it")
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	d.logFile.Close()
	if b, err := os.ReadFile(d.pidPath()); err == nil && string(b) == strconv.Itoa(d.cmd.Process.Pid) {
		_ = os.Remove(d.pidPath()) // not when a newer daemon on this dir wrote it
	}
	d.cmd = nil
	d.log.Info("containerd stopped")
}

// Pid is the daemon's process id, or 0 when it is not running.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return 0
	}
	return d.cmd.Process.Pid
}
