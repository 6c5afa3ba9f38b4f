package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/store"
)

// Inside the server every client-facing failure is an *apierrors.StatusError (the one
// error type kube-apiserver itself uses, carrying a metav1.Status). Anything else is an
// internal error: logged with its detail, shown to the client generically.

// optimisticLockMsg is kube-apiserver's text for a stale resourceVersion.
const optimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

func badRequest(msg string) error { return apierrors.NewBadRequest(msg) }

func notFound(r *resource, name string) error { return apierrors.NewNotFound(r.gr(), name) }

func conflict(r *resource, name string) error {
	return apierrors.NewConflict(r.gr(), name, errors.New(optimisticLockMsg))
}

// tooOld is the Expired status kube-apiserver sends for a compacted resourceVersion.
func tooOld(requested, oldest int64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", requested, oldest))
}

// tooLarge is kube-apiserver's answer for a resourceVersion the server has not reached
// (a client that remembers a different, wiped database); client-go relists on it.
func tooLarge(requested, current int64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", requested, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

// storeErr turns a store error about r/name into the status kube-apiserver would send.
func storeErr(r *resource, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(r, name)
	case errors.Is(err, store.ErrExists):
		return apierrors.NewAlreadyExists(r.gr(), name)
	case errors.Is(err, store.ErrConflict):
		return conflict(r, name)
	}
	return err
}

// toStatus maps any error to the Status sent to the client.
func (s *Server) toStatus(req *http.Request, err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		return &st
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		st := apierrors.NewBadRequest("the request body ended early (the client went away?)").Status()
		return &st
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		st := apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", mbe.Limit)).Status()
		return &st
	}
	s.log.Error("internal error", "method", req.Method, "path", req.URL.Path, "err", err)
	st := apierrors.NewInternalError(errors.New("internal error")).Status()
	return &st
}

func (s *Server) writeError(w http.ResponseWriter, req *http.Request, err error) {
	st := s.toStatus(req, err)
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	writeJSON(w, int(st.Code), st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		slog.Error("encoding response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// errNoRoute is kube-apiserver's answer for a URL that names no resource.
var errNoRoute = &apierrors.StatusError{ErrStatus: metav1.Status{
	Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
	Message: "the server could not find the requested resource",
}}
