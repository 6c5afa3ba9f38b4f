package containers

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"

	"webkube/runtime/logs"
)

// Labels of a container whose pod asks for a stdin (spec.stdin, spec.stdinOnce).
const (
	LabelStdin     = "webkube.io/stdin"
	LabelStdinOnce = "webkube.io/stdin-once"
)

// AttachOptions are the streams of one `kubectl attach` to a container's main process.
type AttachOptions struct {
	Stdin  io.Reader // nil: no stdin. Its EOF ends this attach's input (and with stdinOnce the process's)
	Stdout io.Writer // nil: not followed
	Stderr io.Writer // nil: not followed; unused with a terminal
	Resize <-chan TermSize
}

// attachable holds a started container's live streams: the writing end of its stdin (when
// its pod asked for one) and the attached sessions following its output, which also goes
// to the log.
type attachable struct {
	mu        sync.Mutex
	stdin     *io.PipeWriter // nil without stdin, or once stdinOnce closed it
	stdinOnce bool
	closeIO   func() // closes the process's stdin (set once the task exists)
	outs      map[*attachSession]bool
}

type attachSession struct{ stdout, stderr io.Writer }

// newAttachable returns the streams of a container and the stdin to give its task (nil
// when the pod asked for none).
func newAttachable(labels map[string]string) (*attachable, io.Reader) {
	a := &attachable{outs: map[*attachSession]bool{}, stdinOnce: labels[LabelStdinOnce] == "true"}
	if labels[LabelStdin] != "true" {
		return a, nil
	}
	pr, pw := io.Pipe()
	a.stdin = pw
	return a, pr
}

// streams are the task's IO: stdin from attach, output to the log and to attached sessions.
func (a *attachable) streams(labels map[string]string, lf *logs.File, stdin io.Reader) []cio.Opt {
	stdout := &teeWriter{base: lf.Stdout(), a: a, pick: func(s *attachSession) io.Writer { return s.stdout }}
	if labels[LabelTTY] == "true" {
		return []cio.Opt{cio.WithStreams(stdin, stdout, nil), cio.WithTerminal}
	}
	stderr := &teeWriter{base: lf.Stderr(), a: a, pick: func(s *attachSession) io.Writer { return s.stderr }}
	return []cio.Opt{cio.WithStreams(stdin, stdout, stderr)}
}

// teeWriter writes a stream to the log and to each attached session; a session that
// cannot take it is dropped from the stream.
type teeWriter struct {
	base io.Writer
	a    *attachable
	pick func(*attachSession) io.Writer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	n, err := t.base.Write(p)
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	for s := range t.a.outs {
		if w := t.pick(s); w != nil {
			if _, werr := w.Write(p); werr != nil {
				delete(t.a.outs, s)
			}
		}
	}
	return n, err
}

// closeStdin ends the process's stdin (stdinOnce after the first attach, or the end).
func (a *attachable) closeStdin() {
	a.mu.Lock()
	w, closeIO := a.stdin, a.closeIO
	a.stdin = nil
	a.mu.Unlock()
	if w != nil {
		w.Close()
		if closeIO != nil {
			closeIO()
		}
	}
}

// Attach connects opts to the main process of container id until the process exits or
// ctx ends, as `kubectl attach` (the output from now on; input only if the pod asked for a
// stdin).
func (r *Runtime) Attach(ctx context.Context, id string, opts AttachOptions) error {
	r.mu.Lock()
	inst := r.insts[id]
	r.mu.Unlock()
	if inst == nil || inst.att == nil {
		return fmt.Errorf("containers: attach: container %s is not running", id)
	}
	a := inst.att
	sess := &attachSession{stdout: opts.Stdout, stderr: opts.Stderr}
	a.mu.Lock()
	a.outs[sess] = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.outs, sess)
		a.mu.Unlock()
	}()
	if opts.Stdin != nil {
		go a.copyStdin(opts.Stdin)
	}
	if opts.Resize != nil {
		stop := forwardResizes(namespaces.WithNamespace(ctx, r.cfg.Namespace), inst.task, opts.Resize)
		defer stop()
	}
	select {
	case <-inst.done:
	case <-ctx.Done():
	}
	return nil
}

// copyStdin passes one session's input to the process; with stdinOnce its end closes the
// process's stdin, as the kubelet does.
func (a *attachable) copyStdin(in io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			a.mu.Lock()
			w := a.stdin
			a.mu.Unlock()
			if w == nil {
				return
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if a.stdinOnce {
				a.closeStdin()
			}
			return
		}
	}
}

// withCloseIO records how to close the task's stdin.
func (a *attachable) withCloseIO(ctx context.Context, t containerd.Task) {
	a.mu.Lock()
	a.closeIO = func() { t.CloseIO(ctx, containerd.WithStdinCloser) }
	a.mu.Unlock()
}
