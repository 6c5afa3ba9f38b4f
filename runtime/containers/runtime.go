// Package containers runs the containers of Kubernetes pods on containerd: it turns a
// corev1.Container into an OCI spec (command/args merged with the image as Kubernetes does,
// env, workingDir, the pod's network namespace and hostname, /etc/hosts and resolv.conf,
// volumes, resource limits), starts it with its output going to a CRI-format log file, reports
// its exit (code, OOMKilled), stops it gracefully, execs into it, and finds its containers
// again after webkube restarts, through the webkube.io/ labels on each container.
//
// The kubelet decides what to run and when; this package only does it.
package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/typeurl/v2"
	corev1 "k8s.io/api/core/v1"

	"webkube/internal/atomicwriter"
	"webkube/runtime/cni"
	wkcd "webkube/runtime/containerd"
	"webkube/runtime/logs"
)

// Labels put on every container, so a restarted kubelet knows what each one is.
const (
	LabelPodUID       = "webkube.io/pod-uid"
	LabelPodNamespace = "webkube.io/pod-namespace"
	LabelPodName      = "webkube.io/pod-name"
	LabelContainer    = "webkube.io/container"
	LabelRestartCount = "webkube.io/restart-count"
	LabelStartedAt    = "webkube.io/started-at"
	LabelOOMKilled    = "webkube.io/oom-killed"
	// An exited container's exit code and time, kept on the container once its task (and
	// so its shim) is deleted, as CRI keeps them in its own store.
	LabelExitCode   = "webkube.io/exit-code"
	LabelFinishedAt = "webkube.io/finished-at"
	LabelTTY        = "webkube.io/tty" // spec.tty: output comes through a terminal
)

// Config configures a Runtime.
type Config struct {
	Client    *containerd.Client
	Namespace string // containerd namespace; default webkube's
	// Address is containerd's socket; with it, ReapShims finds this runtime's shims.
	Address  string
	RuncRoot string // runc state dir; default runc's own
	// DataDir holds per-pod volume dirs (pods/<uid>), container logs (logs/) and the FIFOs
	// that carry container output (fifo/). It must survive restarts of webkube.
	DataDir     string
	Snapshotter string // default "overlayfs"
	Clock       func() time.Time
	Logger      *slog.Logger
	// OnExit, if set, is called (from its own goroutine) when a container's process exits.
	OnExit func(Status)
}

// State is where a container is in its life.
type State string

const (
	StateCreated State = "Created" // container made, process not started
	StateRunning State = "Running"
	StateExited  State = "Exited"
	StateUnknown State = "Unknown"
)

// Status is what the kubelet needs to report a container in the pod's status.
type Status struct {
	ID           string
	PodUID       string
	Namespace    string
	PodName      string
	Name         string // container name in the pod spec
	RestartCount int
	Image        string
	State        State
	Pid          uint32
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	ExitCode     int32
	Reason       string // when exited: Completed, Error or OOMKilled
	LogPath      string
}

// CreateOptions says which container of which pod to create.
type CreateOptions struct {
	Pod          *corev1.Pod
	Container    *corev1.Container
	Image        containerd.Image
	Network      cni.Network // from cni.Manager.SetUp
	RestartCount int
	// Data of the configMaps and secrets the container refers to, fetched by the kubelet.
	ConfigMaps map[string]map[string]string
	Secrets    map[string]map[string][]byte
	// ClaimDirs maps each persistentVolumeClaim volume of the pod to the host directory of
	// its bound PersistentVolume, resolved by the kubelet.
	ClaimDirs map[string]string
	// OwnedClaims are the claim volumes whose ownership the kubelet manages (fsGroup):
	// those webkube provisioned, not hostPath volumes made by hand.
	OwnedClaims map[string]bool
	// ExtraEnv comes before the container's own env (e.g. Service variables).
	ExtraEnv []corev1.EnvVar
	// VolumeFiles are the files of the pod's configMap, secret, downwardAPI and projected
	// volumes, by volume name, computed by the kubelet (keys, pod fields, service account
	// tokens).
	VolumeFiles map[string][]File
}

// File is one file of a volume the kubelet computes.
type File = atomicwriter.File

// Runtime runs pod containers on one containerd.
type Runtime struct {
	cfg    Config
	client *containerd.Client
	log    *slog.Logger
	now    func() time.Time
	bg     context.Context // namespaced, lives as long as Start's ctx: waits and reattached IO

	mu    sync.Mutex
	insts map[string]*instance
	ooms  map[string]bool // container IDs that had an OOM event
}

// instance is a started container process this Runtime is watching.
type instance struct {
	task containerd.Task
	log  *logs.File
	att  *attachable   // live streams for attach; nil when reattached after a restart
	done chan struct{} // closed after the exit is recorded and the log closed
}

// New checks cfg. Call Start before using the Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Client == nil {
		return nil, errors.New("containers: Client is required")
	}
	if cfg.DataDir == "" || !filepath.IsAbs(cfg.DataDir) {
		return nil, fmt.Errorf("containers: DataDir must be an absolute path, got %q", cfg.DataDir)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = wkcd.Namespace
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = "overlayfs"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, d := range []string{"pods", "logs", "fifo"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("containers: %w", err)
		}
	}
	return &Runtime{
		cfg:    cfg,
		client: cfg.Client,
		log:    cfg.Logger.With("component", "containers"),
		now:    cfg.Clock,
		insts:  map[string]*instance{},
		ooms:   map[string]bool{},
	}, nil
}

// Start watches OOM events and reattaches to the containers that were started before a
// restart: output goes on into their log files and their exits are reported. It returns
// once that is done; the watching goes on until ctx ends.
func (r *Runtime) Start(ctx context.Context) error {
	r.bg = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	ctx = r.bg
	go r.watchOOM(ctx)

	cs, err := r.client.Containers(ctx, `labels."`+LabelPodUID+`"`)
	if err != nil {
		return fmt.Errorf("containers: list: %w", err)
	}
	for _, c := range cs {
		if err := r.reattach(ctx, c); err != nil {
			r.log.Warn("reattach failed", "container", c.ID(), "err", err)
		}
	}
	return nil
}

// watchOOM records the containers the kernel's OOM killer hit, subscribing again when the
// stream breaks (containerd restarted).
func (r *Runtime) watchOOM(ctx context.Context) {
	for ctx.Err() == nil {
		evs, errs := r.client.Subscribe(ctx, `topic=="/tasks/oom"`)
	stream:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if err != nil && ctx.Err() == nil {
					r.log.Warn("containerd event stream ended, resubscribing", "err", err)
				}
				break stream
			case ev := <-evs:
				v, err := typeurl.UnmarshalAny(ev.Event)
				if oom, ok := v.(*apievents.TaskOOM); err == nil && ok {
					r.mu.Lock()
					r.ooms[oom.ContainerID] = true
					r.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *Runtime) reattach(ctx context.Context, c containerd.Container) error {
	labels, err := c.Labels(ctx)
	if err != nil {
		return err
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		// Never started, or half-created by a start a crash interrupted: clear the latter
		// now, so the kubelet's start does not trip over it.
		return r.deleteHalfCreatedTask(ctx, c.ID())
	}
	if err != nil {
		return err
	}
	st, err := t.Status(ctx)
	if err != nil {
		return err
	}
	if st.Status == containerd.Stopped {
		// It exited while webkube was down: record it and end its shim, as monitor does.
		r.finish(ctx, c.ID(), t, containerd.NewExitStatus(st.ExitStatus, st.ExitTime, nil))
		return nil
	}
	if st.Status != containerd.Running {
		return nil // its state is read from the task when asked
	}
	lf, err := logs.Create(r.logPathFromLabels(labels), r.now)
	if err != nil {
		return err
	}
	t, err = c.Task(ctx, cio.NewAttach(outputStreams(labels, lf)...))
	if err != nil {
		lf.Close()
		return err
	}
	exitCh, err := t.Wait(r.bg)
	if err != nil {
		lf.Close()
		return err
	}
	inst := &instance{task: t, log: lf, done: make(chan struct{})}
	r.mu.Lock()
	r.insts[c.ID()] = inst
	r.mu.Unlock()
	go r.monitor(c.ID(), inst, exitCh)
	r.log.Debug("reattached", "container", c.ID(), "pod", labels[LabelPodNamespace]+"/"+labels[LabelPodName])
	return nil
}

// Create makes a container for opts.Container (not yet started) and returns its ID.
func (r *Runtime) Create(ctx context.Context, opts CreateOptions) (string, error) {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	if opts.Pod == nil || opts.Container == nil || opts.Image == nil {
		return "", errors.New("containers: Pod, Container and Image are required")
	}
	specOpts, err := r.specOpts(ctx, &opts)
	if err != nil {
		return "", fmt.Errorf("containers: %s/%s %s: %w", opts.Pod.Namespace, opts.Pod.Name, opts.Container.Name, err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	labels := map[string]string{
		LabelPodUID:       string(opts.Pod.UID),
		LabelPodNamespace: opts.Pod.Namespace,
		LabelPodName:      opts.Pod.Name,
		LabelContainer:    opts.Container.Name,
		LabelRestartCount: strconv.Itoa(opts.RestartCount),
	}
	if opts.Container.TTY {
		labels[LabelTTY] = "true"
	}
	if opts.Container.Stdin {
		labels[LabelStdin] = "true"
	}
	if opts.Container.StdinOnce {
		labels[LabelStdinOnce] = "true"
	}
	runtimeOpts := &options.Options{Root: r.cfg.RuncRoot}
	_, err = r.client.NewContainer(ctx, id,
		containerd.WithImage(opts.Image),
		containerd.WithSnapshotter(r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, opts.Image),
		containerd.WithRuntime(wkcd.RuntimeName, runtimeOpts),
		containerd.WithNewSpec(specOpts...),
		containerd.WithContainerLabels(labels),
	)
	if err != nil {
		return "", fmt.Errorf("containers: create %s/%s %s: %w", opts.Pod.Namespace, opts.Pod.Name, opts.Container.Name, err)
	}
	dir := logs.ContainerDir(r.logsDir(), opts.Pod.Namespace, opts.Pod.Name, string(opts.Pod.UID), opts.Container.Name)
	if err := logs.Prune(dir, opts.RestartCount); err != nil {
		r.log.Warn("pruning old logs", "dir", dir, "err", err)
	}
	return id, nil
}

// StartContainer starts the process of a created container, its output going to its log.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	if r.bg == nil {
		return errors.New("containers: Start the Runtime first")
	}
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	// LoadContainer fetched the record already: no second round trip for the labels.
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	labels := info.Labels
	lf, err := logs.Create(r.logPathFromLabels(labels), r.now)
	if err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	fifoDir := filepath.Join(r.cfg.DataDir, "fifo", id)
	att, stdin := newAttachable(labels)
	newTask := func() (containerd.Task, error) {
		return c.NewTask(ctx, cio.NewCreator(append(att.streams(labels, lf, stdin), cio.WithFIFODir(fifoDir))...))
	}
	t, err := newTask()
	if errdefs.IsAlreadyExists(err) {
		// A task left by a start that did not finish (e.g. a crash in between) is replaced.
		if err := r.replaceUnstartedTask(ctx, c); err != nil {
			lf.Close()
			return err
		}
		t, err = newTask()
	}
	if err != nil {
		lf.Close()
		return fmt.Errorf("containers: start %s: %w", id, err)
	}
	// Wait before Start, so even an instant exit is seen.
	exitCh, err := t.Wait(r.bg)
	if err != nil {
		t.Delete(ctx)
		lf.Close()
		return fmt.Errorf("containers: %w", err)
	}
	// The start time is written before the start: a process that exits at once would
	// otherwise show as exited with no start time until the label lands, and a zero start
	// looks like a run long enough to reset the kubelet's restart back-off.
	if _, err := c.SetLabels(ctx, map[string]string{LabelStartedAt: r.now().UTC().Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn("recording start time", "container", id, "err", err)
	}
	if err := t.Start(ctx); err != nil {
		t.Delete(ctx)
		lf.Close()
		return fmt.Errorf("containers: start %s: %w", id, err)
	}
	att.withCloseIO(r.bg, t)
	inst := &instance{task: t, log: lf, att: att, done: make(chan struct{})}
	r.mu.Lock()
	r.insts[id] = inst
	r.mu.Unlock()
	go r.monitor(id, inst, exitCh)
	return nil
}

// replaceUnstartedTask deletes the task of a container that was never started: one in
// state Created, or a half-created one. The latter is what a crash leaves between the
// shim's start and the task's creation in it: the restarted containerd holds the task's
// bundle and shim but the shim knows no such container, so the task has no state (it is
// listed nowhere) and yet blocks every new one with "already exists".
func (r *Runtime) replaceUnstartedTask(ctx context.Context, c containerd.Container) error {
	old, err := c.Task(ctx, nil)
	if err == nil {
		if st, serr := old.Status(ctx); serr == nil && st.Status != containerd.Created {
			return fmt.Errorf("containers: %s already started", c.ID())
		}
		if _, err := old.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containers: %w", err)
		}
		return nil
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: %w", err)
	}
	return r.deleteHalfCreatedTask(ctx, c.ID())
}

// deleteHalfCreatedTask removes a task that has no state (see replaceUnstartedTask)
// through the task service itself, which drops it from containerd's list, deletes its
// bundle and lets the shim exit once it serves nothing else. A task that does not exist
// at all is fine.
func (r *Runtime) deleteHalfCreatedTask(ctx context.Context, id string) error {
	_, err := r.client.TaskService().Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})
	if err = errdefs.FromGRPC(err); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: delete half-created task %s: %w", id, err)
	}
	if err == nil {
		r.log.Info("deleted a half-created task", "container", id)
	}
	return nil
}

// outputStreams sends a container's output to its log; a terminal has only one stream.
func outputStreams(labels map[string]string, lf *logs.File) []cio.Opt {
	if labels[LabelTTY] == "true" {
		return []cio.Opt{cio.WithStreams(nil, lf.Stdout(), nil), cio.WithTerminal}
	}
	return []cio.Opt{cio.WithStreams(nil, lf.Stdout(), lf.Stderr())}
}

// monitor waits for the process to exit, lets its output drain into the log, records an
// OOM kill, and tells OnExit.
func (r *Runtime) monitor(id string, inst *instance, exitCh <-chan containerd.ExitStatus) {
	var exitStatus *containerd.ExitStatus // nil when the task went behind our back
	for {
		var exit containerd.ExitStatus
		select {
		case exit = <-exitCh:
		case <-r.bg.Done():
			// webkube is stopping, the container goes on; a new Runtime reattaches to it.
			return
		}
		if exit.Error() == nil {
			exitStatus = &exit
			break
		}
		if r.bg.Err() != nil {
			return
		}
		// The wait broke, not the process (e.g. containerd restarted): wait again. The
		// output keeps flowing meanwhile, through FIFOs that do not involve containerd.
		r.log.Warn("waiting for container failed, retrying", "container", id, "err", exit.Error())
		select {
		case <-time.After(time.Second):
		case <-r.bg.Done():
			return
		}
		ch, err := inst.task.Wait(r.bg)
		if err != nil {
			if errdefs.IsNotFound(err) {
				break // deleted behind our back: it is gone either way
			}
			exitCh = closedExit(err)
			continue
		}
		exitCh = ch
	}
	// The shim closes the output FIFOs once the process is gone; wait (briefly: a child
	// that inherited stdout could keep them open) for the copy to finish.
	drained := make(chan struct{})
	go func() { inst.task.IO().Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	inst.log.Close()
	if inst.att != nil {
		inst.att.closeStdin() // ends the copy into the gone process's stdin
	}
	r.finish(r.bg, id, inst.task, exitStatus)
	close(inst.done)
	if r.cfg.OnExit != nil {
		if st, err := r.Status(r.bg, id); err == nil {
			r.cfg.OnExit(st)
		}
	}
}

// finish records an exited container's end on the container itself (exit code, time, OOM
// kill) and then deletes its task, which ends the task's shim: a shim per exited instance
// kept ~13 MB each until the pod went. The container and its log stay, for the status and
// `logs --previous`. Without a known exit the task is left, and its status read from it.
func (r *Runtime) finish(ctx context.Context, id string, t containerd.Task, exit *containerd.ExitStatus) {
	oom := r.oomKilled(ctx, id) // before the delete: it may read the task's cgroup
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	l := map[string]string{}
	if oom {
		l[LabelOOMKilled] = "true"
	}
	if exit != nil {
		l[LabelExitCode] = strconv.Itoa(int(exit.ExitCode()))
		l[LabelFinishedAt] = exit.ExitTime().UTC().Format(time.RFC3339Nano)
	}
	if len(l) > 0 {
		if _, err := c.SetLabels(ctx, l); err != nil {
			r.log.Warn("record container exit", "container", id, "err", err)
			return
		}
	}
	if exit == nil {
		return
	}
	if _, err := t.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		r.log.Warn("delete exited task", "container", id, "err", err)
	}
}

// closedExit is an exit channel that reports a failed wait at once.
func closedExit(err error) <-chan containerd.ExitStatus {
	ch := make(chan containerd.ExitStatus, 1)
	ch <- *containerd.NewExitStatus(containerd.UnknownExitStatus, time.Time{}, err)
	return ch
}

// oomKilled tells whether the kernel's OOM killer hit the container: from the event, or
// from its memory cgroup's counter (the event can come after the exit).
func (r *Runtime) oomKilled(ctx context.Context, id string) bool {
	r.mu.Lock()
	seen := r.ooms[id]
	r.mu.Unlock()
	if seen {
		return true
	}
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return false
	}
	spec, err := c.Spec(ctx)
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", spec.Linux.CgroupsPath, "memory.oom_control"))
	if err != nil {
		// cgroup v2
		b, err = os.ReadFile(filepath.Join("/sys/fs/cgroup", spec.Linux.CgroupsPath, "memory.events"))
		if err != nil {
			return false
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

// Done is closed when the container's current process has exited and its log is complete.
// For a container that is not running it is already closed.
func (r *Runtime) Done(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if inst, ok := r.insts[id]; ok {
		return inst.done
	}
	c := make(chan struct{})
	close(c)
	return c
}

// Stop sends SIGTERM, and SIGKILL if the process is still there after grace. Stopping a
// container that is not running is not an error.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("containers: %w", err)
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	done := r.Done(id)
	r.mu.Lock()
	_, watched := r.insts[id]
	r.mu.Unlock()
	if !watched {
		// Not ours to watch (e.g. Start not called): wait on the task directly.
		exitCh, err := t.Wait(ctx)
		if err != nil {
			return fmt.Errorf("containers: %w", err)
		}
		d := make(chan struct{})
		go func() { <-exitCh; close(d) }()
		done = d
	}
	if st, err := t.Status(ctx); err == nil && st.Status == containerd.Stopped {
		return nil
	}
	if err := t.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: SIGTERM %s: %w", id, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := t.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: SIGKILL %s: %w", id, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("containers: %s did not exit after SIGKILL", id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Remove deletes the container: its task (killing it if needed), its snapshot and record.
// Its log file stays, as the previous instance's. Removing a missing container is fine.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return r.forget(id)
	}
	if err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	r.mu.Lock()
	inst := r.insts[id]
	r.mu.Unlock()
	var t containerd.Task
	if inst != nil {
		t = inst.task
	} else if t, err = c.Task(ctx, nil); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: %w", err)
	}
	if t != nil {
		if _, err := t.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containers: delete task %s: %w", id, err)
		}
	} else if err := r.deleteHalfCreatedTask(ctx, id); err != nil {
		return err
	}
	if inst != nil {
		select {
		case <-inst.done:
		case <-time.After(5 * time.Second):
			inst.log.Close()
		}
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containers: delete %s: %w", id, err)
	}
	return r.forget(id)
}

func (r *Runtime) forget(id string) error {
	r.mu.Lock()
	delete(r.insts, id)
	delete(r.ooms, id)
	r.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(r.cfg.DataDir, "fifo", id)); err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	return nil
}

// Status reports one container.
func (r *Runtime) Status(ctx context.Context, id string) (Status, error) {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return Status{}, fmt.Errorf("containers: %w", err)
	}
	return r.status(ctx, c)
}

func (r *Runtime) status(ctx context.Context, c containerd.Container) (Status, error) {
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return Status{}, fmt.Errorf("containers: %w", err)
	}
	l := info.Labels
	rc, _ := strconv.Atoi(l[LabelRestartCount])
	st := Status{
		ID:           c.ID(),
		PodUID:       l[LabelPodUID],
		Namespace:    l[LabelPodNamespace],
		PodName:      l[LabelPodName],
		Name:         l[LabelContainer],
		RestartCount: rc,
		Image:        info.Image,
		State:        StateCreated,
		CreatedAt:    info.CreatedAt,
		LogPath:      r.logPathFromLabels(l),
	}
	st.StartedAt, _ = time.Parse(time.RFC3339Nano, l[LabelStartedAt])
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		if l[LabelFinishedAt] != "" { // exited, its task deleted (finish)
			code, _ := strconv.Atoi(l[LabelExitCode])
			st.FinishedAt, _ = time.Parse(time.RFC3339Nano, l[LabelFinishedAt])
			st.State, st.ExitCode = StateExited, int32(code)
			st.Reason = exitReason(l[LabelOOMKilled] == "true", uint32(code))
		}
		return st, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("containers: %w", err)
	}
	ts, err := t.Status(ctx)
	if err != nil {
		st.State = StateUnknown
		return st, nil
	}
	st.Pid = t.Pid()
	switch ts.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing:
		st.State = StateRunning
	case containerd.Created:
		st.State = StateCreated
	case containerd.Stopped:
		st.State = StateExited
		st.ExitCode = int32(ts.ExitStatus)
		st.FinishedAt = ts.ExitTime
		st.Reason = exitReason(l[LabelOOMKilled] == "true" || r.oomKilled(ctx, c.ID()), ts.ExitStatus)
	default:
		st.State = StateUnknown
	}
	return st, nil
}

// exitReason is the reason an exited container shows, as the kubelet words it.
func exitReason(oom bool, code uint32) string {
	switch {
	case oom:
		return "OOMKilled"
	case code == 0:
		return "Completed"
	default:
		return "Error"
	}
}

// List reports the containers of one pod, or of all pods when podUID is "".
func (r *Runtime) List(ctx context.Context, podUID string) ([]Status, error) {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	filter := `labels."` + LabelPodUID + `"`
	if podUID != "" {
		filter += `==` + strconv.Quote(podUID)
	}
	cs, err := r.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("containers: list: %w", err)
	}
	out := make([]Status, 0, len(cs))
	for _, c := range cs {
		st, err := r.status(ctx, c)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// LogPath is the log file of the container's instance, or of the one before it.
func (r *Runtime) LogPath(ctx context.Context, id string, previous bool) (string, error) {
	st, err := r.Status(ctx, id)
	if err != nil {
		return "", err
	}
	if !previous {
		return st.LogPath, nil
	}
	if st.RestartCount == 0 {
		return "", fmt.Errorf("containers: previous terminated container %q in pod %q not found", st.Name, st.PodName)
	}
	p := logs.Path(r.logsDir(), st.Namespace, st.PodName, st.PodUID, st.Name, st.RestartCount-1)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("containers: previous terminated container %q in pod %q not found", st.Name, st.PodName)
	}
	return p, nil
}

// RemovePod deletes a pod's volume dirs and logs, once none of its containers is left.
func (r *Runtime) RemovePod(ctx context.Context, podUID, namespace, name string) error {
	left, err := r.List(ctx, podUID)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("containers: pod %s still has %d containers", podUID, len(left))
	}
	if err := os.RemoveAll(r.podDir(podUID)); err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	if err := os.RemoveAll(logs.PodDir(r.logsDir(), namespace, name, podUID)); err != nil {
		return fmt.Errorf("containers: %w", err)
	}
	return nil
}

func (r *Runtime) podDir(uid string) string {
	return filepath.Join(r.cfg.DataDir, "pods", filepath.Base(uid))
}

func (r *Runtime) logsDir() string { return filepath.Join(r.cfg.DataDir, "logs") }

func (r *Runtime) logPathFromLabels(l map[string]string) string {
	rc, _ := strconv.Atoi(l[LabelRestartCount])
	return logs.Path(r.logsDir(), l[LabelPodNamespace], l[LabelPodName], l[LabelPodUID], l[LabelContainer], rc)
}
