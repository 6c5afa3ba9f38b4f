package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TermSize is a terminal's size in characters.
type TermSize struct{ Width, Height uint16 }

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Command []string
	TTY     bool
	Stdin   io.Reader // nil: no stdin. Its EOF closes the process's stdin.
	Stdout  io.Writer // nil: discarded
	Stderr  io.Writer // nil: discarded; unused with TTY (the terminal merges it into Stdout)
	Resize  <-chan TermSize
}

// Exec runs a process in the container, like `kubectl exec`, and returns its exit code.
// Cancelling ctx kills the process.
func (r *Runtime) Exec(ctx context.Context, id string, opts ExecOptions) (int, error) {
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	if len(opts.Command) == 0 {
		return 0, errors.New("containers: exec: no command")
	}
	t, pspec, err := r.execTarget(ctx, id, opts)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 8)
	rand.Read(b)
	execID := "exec-" + hex.EncodeToString(b)

	// The process is known only after Exec returns, but cio starts copying stdin at once:
	// the EOF hook waits for the start before closing the process's stdin.
	var (
		proc    containerd.Process
		started = make(chan struct{})
	)
	closeStdin := func() {
		select {
		case <-started:
			proc.CloseIO(ctx, containerd.WithStdinCloser)
		case <-ctx.Done():
		}
	}
	proc, err = t.Exec(ctx, execID, pspec, cio.NewCreator(r.execStreams(id, opts, closeStdin)...))
	if err != nil {
		return 0, fmt.Errorf("containers: exec: %w", err)
	}
	// Delete (which also drains and closes the IO) must happen even when ctx is cancelled.
	cleanup := namespaces.WithNamespace(context.WithoutCancel(ctx), r.cfg.Namespace)
	defer func() {
		dctx, cancel := context.WithTimeout(cleanup, 10*time.Second)
		defer cancel()
		proc.Delete(dctx, containerd.WithProcessKill)
	}()
	exitCh, err := proc.Wait(cleanup)
	if err != nil {
		return 0, fmt.Errorf("containers: exec: %w", err)
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("containers: exec: %w", err)
	}
	close(started)
	if opts.Resize != nil {
		stop := forwardResizes(ctx, proc, opts.Resize)
		defer stop()
	}
	return waitExec(ctx, cleanup, proc, exitCh)
}

// execTarget finds the running task of container id and the process spec to run in it:
// the container's own, with the command, terminal and environment of the exec.
func (r *Runtime) execTarget(ctx context.Context, id string, opts ExecOptions) (containerd.Task, *specs.Process, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("containers: exec: %w", err)
	}
	t, err := c.Task(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("containers: exec: container %s is not running: %w", id, err)
	}
	if st, err := t.Status(ctx); err != nil || st.Status != containerd.Running {
		return nil, nil, fmt.Errorf("containers: exec: container %s is not running", id)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("containers: exec: %w", err)
	}
	pspec := *spec.Process
	pspec.Args = opts.Command
	pspec.Terminal = opts.TTY
	pspec.Env = append([]string{}, spec.Process.Env...)
	if opts.TTY {
		pspec.Env = append(pspec.Env, "TERM=xterm")
	}
	return t, &pspec, nil
}

// execStreams wires the exec's stdin, stdout and stderr (one stream with a terminal)
// through FIFOs under the container's directory; closeStdin runs when stdin ends.
func (r *Runtime) execStreams(id string, opts ExecOptions, closeStdin func()) []cio.Opt {
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil || opts.TTY {
		stderr = io.Discard
	}
	var stdin io.Reader
	if opts.Stdin != nil {
		stdin = &eofHook{r: opts.Stdin, onEOF: closeStdin}
	}
	streams := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(filepath.Join(r.cfg.DataDir, "fifo", id))}
	if opts.TTY {
		streams = append(streams, cio.WithTerminal)
	}
	return streams
}

// forwardResizes passes terminal sizes to proc until the returned stop is called.
func forwardResizes(ctx context.Context, proc containerd.Process, sizes <-chan TermSize) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case sz, ok := <-sizes:
				if !ok {
					return
				}
				proc.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// waitExec waits for the process to exit and its output to drain, or kills it when ctx
// ends.
func waitExec(ctx, cleanup context.Context, proc containerd.Process, exitCh <-chan containerd.ExitStatus) (int, error) {
	select {
	case st := <-exitCh:
		// Let the output drain before returning: Delete (deferred) waits for the copy,
		// but the caller reads its writers as soon as we return. A background child that
		// kept stdout open holds this up, as in Kubernetes, until ctx ends.
		drained := make(chan struct{})
		go func() { proc.IO().Wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			proc.IO().Cancel()
		}
		return int(st.ExitCode()), st.Error()
	case <-ctx.Done():
		proc.Kill(cleanup, syscall.SIGKILL)
		select {
		case <-exitCh:
		case <-time.After(5 * time.Second):
		}
		return 0, ctx.Err()
	}
}

// eofHook calls onEOF once when r reports EOF.
type eofHook struct {
	r     io.Reader
	once  sync.Once
	onEOF func()
}

func (e *eofHook) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		e.once.Do(e.onEOF)
	}
	return n, err
}
