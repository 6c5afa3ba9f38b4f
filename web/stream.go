package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	"nhooyr.io/websocket"

	"webkube/web/i18n"
)

// logs streams pods/log to the page, one websocket message per line. A follow goes on
// where `kubectl logs -f` stops: it waits for a container that has not started yet, and
// after a restart continues with the new instance.
func (d *Dashboard) logs(c echo.Context) error {
	ns, name := c.QueryParam("namespace"), c.QueryParam("name")
	opts := &corev1.PodLogOptions{
		Container:  c.QueryParam("container"),
		Follow:     c.QueryParam("follow") == "true",
		Previous:   c.QueryParam("previous") == "true",
		Timestamps: c.QueryParam("timestamps") == "true",
	}
	tail := int64(500)
	if v, err := strconv.ParseInt(c.QueryParam("tail"), 10, 64); err == nil && v > 0 {
		tail = v
	}
	opts.TailLines = &tail
	lang := langOf(c)
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(c.Request().Context())
	if opts.Follow && !opts.Previous {
		err = d.followLogs(ctx, conn, lang, ns, name, opts)
	} else {
		err = d.streamLogs(ctx, conn, ns, name, opts)
	}
	switch {
	case errors.Is(err, errPeerGone):
		return nil
	case err != nil:
		_ = conn.Write(ctx, websocket.MessageText, jsonLine("error", err.Error()))
	default:
		_ = conn.Write(ctx, websocket.MessageText, jsonLine("end", ""))
	}
	awaitPeerClose(ctx, conn)
	return nil
}

var errPeerGone = errors.New("page closed the log")

// streamLogs copies one pods/log stream to the page, line by line.
func (d *Dashboard) streamLogs(ctx context.Context, conn *websocket.Conn, ns, name string, opts *corev1.PodLogOptions) error {
	rc, err := d.client.CoreV1().Pods(ns).GetLogs(name, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if err := conn.Write(ctx, websocket.MessageText, jsonLine("line", sc.Text())); err != nil {
			return errPeerGone
		}
	}
	return nil
}

// followLogs follows each instance of the container in turn: it waits (saying why) until
// an instance it has not shown runs or has run, streams its log, and when that stream ends
// waits for the next one, until the pod is gone or the container will not run again.
func (d *Dashboard) followLogs(ctx context.Context, conn *websocket.Conn, lang, ns, name string, opts *corev1.PodLogOptions) error {
	shown := ""
	for {
		cs, err := d.awaitInstance(ctx, conn, lang, ns, name, opts.Container, shown)
		if err != nil || cs == nil {
			return err
		}
		if shown != "" {
			opts.TailLines = nil // a new instance: all of its log
			msg := i18n.Tr(lang, "logs.restarted", cs.Name, cs.RestartCount)
			if err := conn.Write(ctx, websocket.MessageText, jsonLine("restart", msg)); err != nil {
				return errPeerGone
			}
		}
		opts.Container = cs.Name
		shown = instanceID(*cs)
		if err := conn.Write(ctx, websocket.MessageText, jsonLine("follow", "")); err != nil {
			return errPeerGone
		}
		if err := d.streamLogs(ctx, conn, ns, name, opts); err != nil {
			if errors.Is(err, errPeerGone) || ctx.Err() != nil {
				return errPeerGone
			}
			return err
		}
	}
}

// awaitInstance polls the pod in the informer's cache until its container has an instance
// other than shown that runs or has run; nil when the pod is gone or the container ended
// for good. While it waits the page is told the container's state.
func (d *Dashboard) awaitInstance(ctx context.Context, conn *websocket.Conn, lang, ns, name, container, shown string) (*corev1.ContainerStatus, error) {
	said := ""
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		p, err := d.l.pods.Pods(ns).Get(name)
		if err != nil {
			return nil, fmt.Errorf("%s", i18n.Tr(lang, "logs.pod_gone", name))
		}
		if container == "" && len(p.Spec.Containers) > 0 {
			container = p.Spec.Containers[0].Name
		}
		cs := containerStatus(p, container)
		switch {
		case cs != nil && instanceID(*cs) != "" && instanceID(*cs) != shown:
			return cs, nil
		case p.DeletionTimestamp != nil && shown != "":
			return nil, nil
		case cs != nil && cs.State.Terminated != nil && !restarts(p, cs.State.Terminated.ExitCode):
			return nil, nil
		}
		why := i18n.Tr(lang, "logs.waiting", container, waitReason(p, cs))
		if cs != nil && cs.State.Running != nil {
			why = said // the instance shown, still running as far as the cache knows
		}
		if why != said {
			said = why
			if err := conn.Write(ctx, websocket.MessageText, jsonLine("wait", why)); err != nil {
				return nil, errPeerGone
			}
		}
		select {
		case <-ctx.Done():
			return nil, errPeerGone
		case <-t.C:
		}
	}
}

func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// instanceID names the instance of a container whose log there is: one that runs or ran.
func instanceID(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Running != nil:
		return cs.ContainerID
	case cs.State.Terminated != nil && cs.State.Terminated.ContainerID != "":
		return cs.State.Terminated.ContainerID
	case cs.State.Terminated != nil:
		return cs.ContainerID
	}
	return ""
}

// restarts says whether the kubelet starts a container that exited with code again.
func restarts(p *corev1.Pod, code int32) bool {
	switch p.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

func waitReason(p *corev1.Pod, cs *corev1.ContainerStatus) string {
	switch {
	case cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
		return cs.State.Waiting.Reason
	case p.Spec.NodeName == "":
		return "Pending"
	}
	return "ContainerCreating"
}

// awaitPeerClose lets the page close the socket after the last message (it does on "end"
// and "error"): a server-sent close racing CloseRead's reply made Chromium log "Close
// received after close". ctx is CloseRead's, done when the page's close arrives.
func awaitPeerClose(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		conn.Close(websocket.StatusNormalClosure, "")
	}
}

func jsonLine(t, s string) []byte {
	b, _ := json.Marshal(map[string]string{"t": t, "s": s})
	return b
}

// execOnce runs a command without a terminal and collects its output.
func (d *Dashboard) execOnce(ctx context.Context, ns, pod, container string, cmd []string, out io.Writer) error {
	conn, err := d.dialExec(ctx, ns, pod, container, cmd, false, false)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	return runExec(ctx, conn, nil, out, nil)
}

// exec bridges the page's terminal to pods/exec. Browser → server messages are JSON
// {"t":"in","s":"..."} or {"t":"resize","w":80,"h":24}; server → browser are binary
// terminal output, and a final JSON text message with the exit status.
func (d *Dashboard) exec(c echo.Context) error {
	ns, name, container := c.QueryParam("namespace"), c.QueryParam("name"), c.QueryParam("container")
	cmd := c.QueryParam("cmd")
	if cmd == "" {
		cmd = "sh"
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	up, err := d.dialExec(ctx, ns, name, container, []string{cmd}, true, true)
	if err != nil {
		_ = conn.Write(ctx, websocket.MessageText, jsonLine("exit", err.Error()))
		conn.Close(websocket.StatusNormalClosure, "")
		return nil
	}
	defer up.CloseNow()
	inR, inW := io.Pipe()
	sizes := make(chan termSize, 4)
	go func() {
		defer inW.Close()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				cancel()
				return
			}
			var m struct {
				T string `json:"t"`
				S string `json:"s"`
				W uint16 `json:"w"`
				H uint16 `json:"h"`
			}
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			switch m.T {
			case "in":
				if _, err := inW.Write([]byte(m.S)); err != nil {
					return
				}
			case "resize":
				select {
				case sizes <- termSize{Width: m.W, Height: m.H}:
				default:
				}
			}
		}
	}()
	out := &wsWriter{ctx: ctx, conn: conn}
	err = runExec(ctx, up, inR, out, sizes)
	status := "exited"
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.Error()
	case err != nil && !errors.Is(err, context.Canceled):
		status = err.Error()
	}
	_ = conn.Write(context.Background(), websocket.MessageText, jsonLine("exit", status))
	conn.Close(websocket.StatusNormalClosure, "")
	return nil
}

type wsWriter struct {
	ctx  context.Context
	conn *websocket.Conn
	mu   sync.Mutex
}

func (w *wsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.conn.Write(w.ctx, websocket.MessageBinary, p); err != nil {
		return 0, fmt.Errorf("terminal gone: %w", err)
	}
	return len(p), nil
}
