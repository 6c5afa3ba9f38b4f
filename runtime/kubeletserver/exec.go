package kubeletserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"nhooyr.io/websocket"

	"webkube/runtime/containers"
)

// The Kubernetes streaming protocol over websocket: every binary message starts with the
// channel it belongs to.
const (
	protocolV5 = "v5.channel.k8s.io" // v4 plus the close-stdin signal
	protocolV4 = "v4.channel.k8s.io"

	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3 // a metav1.Status when the command ends
	chanResize = 4 // {"Width":W,"Height":H}
	chanClose  = 255
)

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cmd := q["command"]
	flag := func(name string) bool {
		v := q.Get(name)
		return v == "1" || v == "true" || (q.Has(name) && v == "")
	}
	useStdin, useStdout, useStderr, tty := flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")
	if len(cmd) == 0 {
		writeStatus(w, apierrors.NewBadRequest("you must specify at least one command for the container"))
		return
	}
	if !useStdin && !useStdout && !useStderr {
		writeStatus(w, apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr"))
		return
	}
	id, err := s.lookup(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeStatus(w, apierrors.NewBadRequest("exec needs a websocket upgrade with protocol "+protocolV5))
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{protocolV5, protocolV4},
		// The API server in front of us checks who may exec; there is no browser origin.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.log.Debug("exec: websocket accept", "err", err)
		return
	}
	defer conn.CloseNow()
	if conn.Subprotocol() == "" {
		conn.Close(websocket.StatusProtocolError, "subprotocol "+protocolV5+" required")
		return
	}
	conn.SetReadLimit(1 << 20)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	opts := containers.ExecOptions{Command: cmd, TTY: tty}
	var stdinW *io.PipeWriter
	if useStdin {
		var pr *io.PipeReader
		pr, stdinW = io.Pipe()
		opts.Stdin = pr
		defer pr.Close()
	}
	if useStdout {
		opts.Stdout = &channelWriter{ctx: ctx, conn: conn, ch: chanStdout}
	}
	if useStderr && !tty {
		opts.Stderr = &channelWriter{ctx: ctx, conn: conn, ch: chanStderr}
	}
	resize := make(chan containers.TermSize, 8)
	opts.Resize = resize

	// Read what the client sends: stdin, resizes, the close of stdin. A closed connection
	// ends the exec.
	go func() {
		defer cancel()
		if stdinW != nil {
			defer stdinW.Close()
		}
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageBinary || len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case chanStdin:
				if stdinW != nil {
					if _, err := stdinW.Write(msg[1:]); err != nil {
						stdinW = nil
					}
				}
			case chanResize:
				var sz containers.TermSize
				if json.Unmarshal(msg[1:], &sz) == nil && sz.Width > 0 && sz.Height > 0 {
					select {
					case resize <- sz:
					default: // the process is behind on resizes; a later one will come
					}
				}
			case chanClose:
				if len(msg) > 1 && msg[1] == chanStdin && stdinW != nil {
					stdinW.Close()
					stdinW = nil
				}
			}
		}
	}()

	code, err := s.cfg.Runtime.Exec(ctx, id, opts)
	var st metav1.Status
	switch {
	case err != nil && ctx.Err() != nil:
		return // the client went away
	case err != nil:
		st = metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError, Message: err.Error()}
	case code != 0:
		st = metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", cmd, code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}},
		}
	default:
		st = metav1.Status{Status: metav1.StatusSuccess}
	}
	b, _ := json.Marshal(st)
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer wcancel()
	if err := conn.Write(wctx, websocket.MessageBinary, append([]byte{chanError}, b...)); err != nil {
		return
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// channelWriter sends what is written as messages on one channel.
type channelWriter struct {
	ctx  context.Context
	conn *websocket.Conn
	ch   byte
}

func (c *channelWriter) Write(p []byte) (int, error) {
	msg := make([]byte, len(p)+1)
	msg[0] = c.ch
	copy(msg[1:], p)
	if err := c.conn.Write(c.ctx, websocket.MessageBinary, msg); err != nil {
		return 0, errors.Join(io.ErrClosedPipe, err)
	}
	return len(p), nil
}
