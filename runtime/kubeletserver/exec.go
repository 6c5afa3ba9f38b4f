package kubeletserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	req, err := parseExec(r.URL.Query())
	if err != nil {
		writeStatus(w, err)
		return
	}
	id, err := s.lookup(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	conn := s.acceptExec(w, r)
	if conn == nil {
		return
	}
	defer conn.CloseNow()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := openStreams(ctx, cancel, conn, req.streams)
	defer st.close()
	opts := containers.ExecOptions{Command: req.cmd, TTY: req.tty, Stdin: st.stdin, Stdout: st.stdout, Stderr: st.stderr, Resize: st.resize}

	code, err := s.cfg.Runtime.Exec(ctx, id, opts)
	if err != nil && ctx.Err() != nil {
		return // the client went away
	}
	st.finish(ctx, conn, execStatus(req.cmd, code, err))
}

// execRequest is what an exec URL asks for.
type execRequest struct {
	cmd []string
	streams
}

// streams are the streams a request asks for.
type streams struct{ stdin, stdout, stderr, tty bool }

func parseStreams(q url.Values) streams {
	flag := func(name string) bool {
		v := q.Get(name)
		return v == "1" || v == "true" || (q.Has(name) && v == "")
	}
	return streams{stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr"), tty: flag("tty")}
}

func parseExec(q url.Values) (execRequest, error) {
	req := execRequest{cmd: q["command"], streams: parseStreams(q)}
	if len(req.cmd) == 0 {
		return req, apierrors.NewBadRequest("you must specify at least one command for the container")
	}
	if !req.stdin && !req.stdout && !req.stderr {
		return req, apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr")
	}
	return req, nil
}

// acceptExec upgrades to the websocket exec protocol (v5 or v4), or answers why not and
// returns nil.
func (s *Server) acceptExec(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeStatus(w, apierrors.NewBadRequest("exec needs a websocket upgrade with protocol "+protocolV5))
		return nil
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{protocolV5, protocolV4},
		// The API server in front of us checks who may exec; there is no browser origin.
		InsecureSkipVerify: true,
	})
	if err != nil {
		s.log.Debug("exec: websocket accept", "err", err)
		return nil
	}
	if conn.Subprotocol() == "" {
		conn.Close(websocket.StatusProtocolError, "subprotocol "+protocolV5+" required")
		return nil
	}
	conn.SetReadLimit(1 << 20)
	return conn
}

// clientStreams are an exec's or attach's ends of the client's websocket channels.
type clientStreams struct {
	stdin          io.Reader // nil unless asked for
	stdout, stderr io.Writer // nil unless asked for (stderr never with a terminal)
	resize         chan containers.TermSize
	stdinR         *io.PipeReader
}

// openStreams wires the channels req asks for and reads the client until it goes, which
// cancels ctx.
func openStreams(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, req streams) *clientStreams {
	st := &clientStreams{resize: make(chan containers.TermSize, 8)}
	var stdinW *io.PipeWriter
	if req.stdin {
		st.stdinR, stdinW = io.Pipe()
		st.stdin = st.stdinR
	}
	if req.stdout {
		st.stdout = &channelWriter{ctx: ctx, conn: conn, ch: chanStdout}
	}
	if req.stderr && !req.tty {
		st.stderr = &channelWriter{ctx: ctx, conn: conn, ch: chanStderr}
	}
	go func() {
		defer cancel()
		readClient(ctx, conn, stdinW, st.resize)
	}()
	return st
}

func (st *clientStreams) close() {
	if st.stdinR != nil {
		st.stdinR.Close()
	}
}

// finish sends the closing Status on the error channel and closes the connection.
func (st *clientStreams) finish(ctx context.Context, conn *websocket.Conn, status metav1.Status) {
	b, _ := json.Marshal(status)
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer wcancel()
	if err := conn.Write(wctx, websocket.MessageBinary, append([]byte{chanError}, b...)); err != nil {
		return
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// readClient reads what the client sends (stdin, resizes, the close of stdin) until the
// connection closes, which ends the exec.
func readClient(ctx context.Context, conn *websocket.Conn, stdinW *io.PipeWriter, resize chan<- containers.TermSize) {
	if stdinW != nil {
		defer func() {
			if stdinW != nil {
				stdinW.Close()
			}
		}()
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
}

// execStatus is the Status the error channel carries at the end, as the kubelet's: a
// non-zero exit code is a NonZeroExitCode failure with the code as its cause.
func execStatus(cmd []string, code int, err error) metav1.Status {
	switch {
	case err != nil:
		return metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError, Message: err.Error()}
	case code != 0:
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", cmd, code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}},
		}
	}
	return metav1.Status{Status: metav1.StatusSuccess}
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
