package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"nhooyr.io/websocket"
)

// The kubelet speaks port-forward over SPDY only. kubectl 1.32 first asks for a websocket
// whose subprotocol is SPDY/3.1+portforward.k8s.io and runs the same SPDY connection inside
// it (client-go's tunneling dialer); it falls back to a plain SPDY upgrade when that
// upgrade fails. As kube-apiserver's stream tunnel, the API server upgrades to SPDY towards
// the kubelet and carries the bytes of that connection in the websocket's binary messages.
const (
	spdyTunnelPrefix    = "SPDY/3.1+"
	protocolPortForward = "portforward.k8s.io"
)

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, t target) error {
	pod, node, backend, err := s.podKubelet(r.Context(), t)
	if err != nil {
		return err
	}
	path := "/portForward/" + pod.Namespace + "/" + pod.Name
	if !wantsSPDYTunnel(r) {
		s.proxyToKubelet(w, r, node, backend, path) // SPDY upgrade, passed through
		return nil
	}
	kubelet, err := s.dialKubeletSPDY(r.Context(), node, backend, path)
	if err != nil {
		return err
	}
	defer kubelet.Close()
	conn, err := websocket.Accept(hijackable{w}, r, &websocket.AcceptOptions{
		Subprotocols: []string{spdyTunnelPrefix + protocolPortForward},
		// Not a browser: the user was authenticated by token or certificate.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil // Accept answered why
	}
	defer conn.CloseNow()
	tunnel(r.Context(), websocket.NetConn(r.Context(), conn, websocket.MessageBinary), kubelet)
	conn.Close(websocket.StatusNormalClosure, "")
	return nil
}

// wantsSPDYTunnel reports a websocket upgrade offering the tunnelled port-forward protocol.
func wantsSPDYTunnel(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == spdyTunnelPrefix+protocolPortForward {
				return true
			}
		}
	}
	return false
}

// dialKubeletSPDY upgrades a request to the kubelet's port-forward to SPDY and returns the
// upgraded connection. The kubelet's refusal (a Status) becomes the error.
func (s *Server) dialKubeletSPDY(ctx context.Context, node *corev1.Node, backend *url.URL, path string) (io.ReadWriteCloser, error) {
	u := *backend
	u.Path = path
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", protocolPortForward)
	resp, err := s.kubelets.RoundTrip(req)
	if err != nil {
		s.log.Warn("port-forward to kubelet failed", "node", node.Name, "err", err)
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("the kubelet on node %q at %s is not reachable", node.Name, backend.Host))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, apierrors.NewGenericServerResponse(resp.StatusCode, "create", corev1.Resource("pods/portforward"), "", strings.TrimSpace(string(b)), 0, false)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, apierrors.NewInternalError(fmt.Errorf("the kubelet's upgraded connection is not writable"))
	}
	return rwc, nil
}

// hijackable lets websocket.Accept hijack through the API server's response wrappers
// (metrics, limits), which offer Hijack only by unwrapping.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// tunnel copies bytes both ways until either side closes.
func tunnel(ctx context.Context, client net.Conn, kubelet io.ReadWriteCloser) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(kubelet, client); done <- struct{}{} }()
	go func() { io.Copy(client, kubelet); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
