package kubeletserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
)

// The port-forward protocol, as the kubelet's: one SPDY connection, and per forwarded
// connection a pair of streams (an error stream and a data stream) with the same
// requestID and the pod's port in their headers. kubectl's websocket dialer tunnels this
// same SPDY connection through the API server (cluster/apiserver), so the kubelet speaks
// SPDY only.
const (
	protocolPortForward = "portforward.k8s.io"

	headerStreamType = "streamType"
	headerPort       = "port"
	headerRequestID  = "requestID"
	streamTypeError  = "error"
	streamTypeData   = "data"

	// portForwardIdle ends a port-forward nobody uses, as the kubelet's
	// streamingConnectionIdleTimeout.
	portForwardIdle = 4 * time.Hour
)

// PodDialer connects to a port of a pod from inside its network namespace.
type PodDialer interface {
	DialPod(ctx context.Context, namespace, pod string, port int32) (net.Conn, error)
}

func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	namespace, pod := r.PathValue("namespace"), r.PathValue("pod")
	if s.cfg.Dialer == nil {
		writeStatus(w, apierrors.NewServiceUnavailable("this kubelet does not forward ports"))
		return
	}
	if !httpstream.IsUpgradeRequest(r) {
		writeStatus(w, apierrors.NewBadRequest("port-forward needs an upgrade to "+spdy.HeaderSpdy31+" with protocol "+protocolPortForward))
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{protocolPortForward}); err != nil {
		return // Handshake answered why
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		streams <- st
		return nil
	})
	if conn == nil {
		return // UpgradeResponse answered why
	}
	defer conn.Close()
	conn.SetIdleTimeout(portForwardIdle)
	f := &forwarder{s: s, namespace: namespace, pod: pod, pairs: map[string]*streamPair{}}
	f.serve(r.Context(), conn, streams)
}

// forwarder pairs the streams of one port-forward connection and forwards each pair.
type forwarder struct {
	s              *Server
	namespace, pod string
	pairs          map[string]*streamPair
	wg             sync.WaitGroup
}

// streamPair is one forwarded connection: kubectl opens its error stream, then its data
// stream.
type streamPair struct {
	port        int32
	errorStream httpstream.Stream
	dataStream  httpstream.Stream
}

func (f *forwarder) serve(ctx context.Context, conn httpstream.Connection, streams <-chan httpstream.Stream) {
	defer f.wg.Wait()
	for {
		select {
		case <-conn.CloseChan():
			return
		case <-ctx.Done():
			return
		case st := <-streams:
			if p := f.add(st); p != nil {
				f.wg.Add(1)
				go func() {
					defer f.wg.Done()
					f.forward(ctx, p)
				}()
			}
		}
	}
}

// add files a new stream under its requestID and returns the pair once both streams came.
// A stream with bad headers is reset.
func (f *forwarder) add(st httpstream.Stream) *streamPair {
	h := st.Headers()
	id := h.Get(headerRequestID)
	port, err := strconv.ParseUint(h.Get(headerPort), 10, 16)
	if id == "" || err != nil || port == 0 {
		f.s.log.Debug("port-forward: stream without requestID or a valid port", "headers", h)
		st.Reset()
		return nil
	}
	p := f.pairs[id]
	if p == nil {
		p = &streamPair{port: int32(port)}
		f.pairs[id] = p
	}
	switch h.Get(headerStreamType) {
	case streamTypeError:
		p.errorStream = st
	case streamTypeData:
		p.dataStream = st
	default:
		st.Reset()
		return nil
	}
	if p.errorStream == nil || p.dataStream == nil {
		return nil
	}
	delete(f.pairs, id)
	return p
}

// forward connects the pair's data stream to the pod's port; a failure is written on its
// error stream, which kubectl prints ("an error occurred forwarding 8080 -> 80: ...").
func (f *forwarder) forward(ctx context.Context, p *streamPair) {
	defer p.dataStream.Close()
	defer p.errorStream.Close()
	if err := f.copy(ctx, p); err != nil {
		msg := fmt.Sprintf("error forwarding port %d to pod %s/%s: %v", p.port, f.namespace, f.pod, err)
		io.WriteString(p.errorStream, msg)
	}
}

func (f *forwarder) copy(ctx context.Context, p *streamPair) error {
	conn, err := f.s.cfg.Dialer.DialPod(ctx, f.namespace, f.pod, p.port)
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		io.Copy(conn, p.dataStream)
		if c, ok := conn.(interface{ CloseWrite() error }); ok {
			c.CloseWrite() // the client finished sending; the pod may still answer
		}
	}()
	// The pod closing its side ends the forward (a server sees the client's half-close
	// above and closes); so does the connection going away.
	done := make(chan struct{})
	go func() {
		io.Copy(p.dataStream, conn)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
