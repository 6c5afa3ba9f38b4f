package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"nhooyr.io/websocket"
)

// The pods/exec websocket protocol (v5.channel.k8s.io): every binary message starts with
// a channel byte. The dashboard speaks it directly with nhooyr.io/websocket, which it
// already uses for its pages, instead of pulling in a second websocket library.
const (
	chStdin  = 0
	chStdout = 1
	chStderr = 2
	chError  = 3
	chResize = 4
	chClose  = 255 // v5: half-close the stream named in the next byte
)

const execProtocol = "v5.channel.k8s.io"

// termSize is one resize of the page's terminal.
type termSize struct {
	Width  uint16 `json:"Width"`
	Height uint16 `json:"Height"`
}

// ExitError is a command that ran and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("command exited with code %d", e.Code) }

// dialExec opens pods/exec through the API server with the dashboard's credentials.
func (d *Dashboard) dialExec(ctx context.Context, ns, pod, container string, cmd []string, tty, stdin bool) (*websocket.Conn, error) {
	u := d.client.CoreV1().RESTClient().Get().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdin: stdin, Stdout: true,
			Stderr: !tty, TTY: tty}, scheme.ParameterCodec).URL()
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	hc, err := execHTTPClient(d.cfg.RESTConfig)
	if err != nil {
		return nil, err
	}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{execProtocol}})
	if err != nil {
		if resp != nil && resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			var st metav1.Status
			if json.Unmarshal(b, &st) == nil && st.Message != "" {
				return nil, errors.New(st.Message)
			}
		}
		return nil, fmt.Errorf("exec: %w", err)
	}
	conn.SetReadLimit(4 << 20)
	return conn, nil
}

// execHTTPClient is an HTTP/1.1 client with the REST config's TLS and auth: a websocket
// upgrade cannot ride HTTP/2.
func execHTTPClient(cfg *rest.Config) (*http.Client, error) {
	tc, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("exec tls: %w", err)
	}
	if tc != nil {
		tc = tc.Clone()
		tc.NextProtos = []string{"http/1.1"}
	} else {
		tc = &tls.Config{NextProtos: []string{"http/1.1"}}
	}
	var rt http.RoundTripper = &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}
	rt, err = rest.HTTPWrappersForConfig(cfg, rt)
	if err != nil {
		return nil, fmt.Errorf("exec auth: %w", err)
	}
	return &http.Client{Transport: rt}, nil
}

// runExec pumps stdin and resizes in and stdout/stderr out until the command ends, and
// returns nil for exit 0, *ExitError for another exit code, or what went wrong.
func runExec(ctx context.Context, conn *websocket.Conn, stdin io.Reader, stdout io.Writer, sizes <-chan termSize) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stdin != nil {
		go func() {
			buf := make([]byte, 8192)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					if conn.Write(ctx, websocket.MessageBinary, append([]byte{chStdin}, buf[:n]...)) != nil {
						return
					}
				}
				if err != nil {
					_ = conn.Write(ctx, websocket.MessageBinary, []byte{chClose, chStdin})
					return
				}
			}
		}()
	}
	if sizes != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case s := <-sizes:
					b, _ := json.Marshal(s)
					if conn.Write(ctx, websocket.MessageBinary, append([]byte{chResize}, b...)) != nil {
						return
					}
				}
			}
		}()
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil
			}
			return err
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case chStdout, chStderr:
			if _, err := stdout.Write(data[1:]); err != nil {
				return err
			}
		case chError:
			return statusError(data[1:])
		}
	}
}

// statusError reads the error channel's Status: Success, a NonZeroExitCode with the code
// in its causes, or a failure message.
func statusError(b []byte) error {
	var st metav1.Status
	if err := json.Unmarshal(b, &st); err != nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return errors.New(s)
		}
		return nil
	}
	if st.Status == metav1.StatusSuccess {
		return nil
	}
	if st.Reason == "NonZeroExitCode" && st.Details != nil {
		for _, c := range st.Details.Causes {
			if c.Type == "ExitCode" {
				var code int
				fmt.Sscan(c.Message, &code)
				return &ExitError{Code: code}
			}
		}
	}
	return errors.New(st.Message)
}
