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
)

// logs streams pods/log to the page, one websocket message per line.
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
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(c.Request().Context())
	rc, err := d.client.CoreV1().Pods(ns).GetLogs(name, opts).Stream(ctx)
	if err != nil {
		_ = conn.Write(ctx, websocket.MessageText, jsonLine("error", err.Error()))
		awaitPeerClose(ctx, conn)
		return nil
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if err := conn.Write(ctx, websocket.MessageText, jsonLine("line", sc.Text())); err != nil {
			return nil
		}
	}
	_ = conn.Write(ctx, websocket.MessageText, jsonLine("end", ""))
	awaitPeerClose(ctx, conn)
	return nil
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
