package kubeletserver

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
)

// attach connects the client to a container's main process (kubectl attach, run -it,
// debug -it), over the same websocket channels as exec. It ends when the process exits or
// the client goes; the error channel then says Success, as the kubelet's.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	req := parseStreams(r.URL.Query())
	if !req.stdin && !req.stdout && !req.stderr {
		writeStatus(w, apierrors.NewBadRequest("you must specify at least one of stdin, stdout, stderr"))
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
	st := openStreams(ctx, cancel, conn, req)
	defer st.close()
	opts := containers.AttachOptions{Stdin: st.stdin, Stdout: st.stdout, Stderr: st.stderr, Resize: st.resize}
	if err := s.cfg.Runtime.Attach(ctx, id, opts); err != nil {
		st.finish(ctx, conn, execStatus(nil, 0, err))
		return
	}
	if ctx.Err() != nil {
		return // the client went away
	}
	st.finish(ctx, conn, metav1.Status{Status: metav1.StatusSuccess})
}
