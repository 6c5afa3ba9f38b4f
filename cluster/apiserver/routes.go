package apiserver

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// target is what an API URL names.
type target struct {
	res       *resource
	namespace string
	name      string
	sub       string
	// legacyWatch: the URL was under /watch/ (deprecated but still served by Kubernetes).
	legacyWatch bool
}

// serveAPI routes /api/... and /apis/... requests.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var gv schema.GroupVersion
	var rest []string
	switch {
	case segs[0] == "api" && len(segs) == 1:
		s.serveDiscoveryRoot(w, r, true)
		return
	case segs[0] == "apis" && len(segs) == 1:
		s.serveDiscoveryRoot(w, r, false)
		return
	case segs[0] == "apis" && len(segs) == 2:
		s.serveGroup(w, r, segs[1])
		return
	case segs[0] == "api":
		gv, rest = schema.GroupVersion{Version: segs[1]}, segs[2:]
	default:
		gv, rest = schema.GroupVersion{Group: segs[1], Version: segs[2]}, segs[3:]
	}
	if !knownGroupVersion(gv) && len(s.crds.inGroupVersion(gv)) == 0 {
		s.writeError(w, r, errNoRoute)
		return
	}
	if len(rest) == 0 {
		s.serveResourceList(w, r, gv)
		return
	}
	t, ok := parseTarget(gv, rest, s.findAny)
	if !ok {
		s.writeError(w, r, errNoRoute)
		return
	}
	if err := s.dispatch(w, withRequestWriter(r), t); err != nil {
		s.writeError(w, r, err)
	}
}

func knownGroupVersion(gv schema.GroupVersion) bool {
	for _, g := range groupVersions {
		if g == gv {
			return true
		}
	}
	return false
}

// parseTarget reads the segments after /api/v1 or /apis/<group>/<version>.
// find looks resources up (built-in, then custom).
func parseTarget(gv schema.GroupVersion, rest []string, find func(schema.GroupVersion, string) *resource) (target, bool) {
	var t target
	if rest[0] == "watch" {
		t.legacyWatch = true
		rest = rest[1:]
		if len(rest) == 0 {
			return t, false
		}
	}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		if res := find(gv, rest[2]); res != nil && res.namespaced {
			t.res, t.namespace = res, rest[1]
			rest = rest[3:]
			return finishTarget(t, rest)
		}
	}
	t.res = find(gv, rest[0])
	if t.res == nil {
		return t, false
	}
	return finishTarget(t, rest[1:])
}

func finishTarget(t target, rest []string) (target, bool) {
	switch len(rest) {
	case 0:
	case 1:
		t.name = rest[0]
	case 2:
		t.name, t.sub = rest[0], rest[1]
		if !t.res.hasSub(t.sub) {
			return t, false
		}
	default:
		return t, false
	}
	if t.legacyWatch && t.sub != "" {
		return t, false
	}
	return t, true
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, t target) error {
	q := r.URL.Query()
	isWatch := t.legacyWatch || queryBool(q, "watch")
	method := r.Method
	if t.res.review {
		return s.serveReview(w, r, t)
	}
	if t.res.metrics {
		return s.serveMetricsAPI(w, r, t)
	}
	if err := checkCustomPatch(r, t.res); err != nil {
		return err
	}
	if t.res.view != nil {
		return s.serveView(w, r, t)
	}
	if t.res.namespaced && t.namespace == "" && (t.name != "" || method != http.MethodGet) {
		return errNoRoute // namespaced objects are only written (and named) under a namespace
	}
	notAllowed := func() error {
		return apierrors.NewMethodNotSupported(t.res.gr(), method)
	}
	switch {
	case t.name == "":
		switch method {
		case http.MethodGet:
			if isWatch {
				return s.serveWatch(w, r, t)
			}
			return s.serveList(w, r, t)
		case http.MethodPost:
			return s.serveCreate(w, r, t)
		case http.MethodDelete:
			return s.serveDeleteCollection(w, r, t)
		}
		return notAllowed()
	case t.sub == "":
		switch method {
		case http.MethodGet:
			if isWatch {
				return s.serveWatch(w, r, t)
			}
			return s.serveGet(w, r, t)
		case http.MethodPut:
			return s.serveUpdate(w, r, t)
		case http.MethodPatch:
			return s.servePatch(w, r, t)
		case http.MethodDelete:
			return s.serveDelete(w, r, t)
		}
		return notAllowed()
	}
	switch t.sub {
	case "status", "approval":
		switch method {
		case http.MethodGet:
			return s.serveGet(w, r, t)
		case http.MethodPut:
			return s.serveUpdate(w, r, t)
		case http.MethodPatch:
			return s.servePatch(w, r, t)
		}
	case "ephemeralcontainers":
		switch method {
		case http.MethodGet:
			return s.serveGet(w, r, t)
		case http.MethodPut:
			return s.serveUpdate(w, r, t)
		case http.MethodPatch:
			return s.servePatch(w, r, t)
		}
	case "scale":
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodPatch:
			return s.serveScale(w, r, t)
		}
	case "binding":
		if method == http.MethodPost {
			return s.serveBinding(w, r, t)
		}
	case "token":
		if method == http.MethodPost {
			return s.serveToken(w, r, t)
		}
	case "eviction":
		if method == http.MethodPost {
			return s.serveEviction(w, r, t)
		}
	case "log":
		if method == http.MethodGet {
			return s.serveProxy(w, r, t, "containerLogs")
		}
	case "exec":
		if method == http.MethodGet || method == http.MethodPost {
			return s.serveProxy(w, r, t, "exec")
		}
	case "attach":
		if method == http.MethodGet || method == http.MethodPost {
			return s.serveProxy(w, r, t, "attach")
		}
	case "portforward":
		if method == http.MethodGet || method == http.MethodPost {
			return s.servePortForward(w, r, t)
		}
	}
	return notAllowed()
}

// readBody reads the request body; the size limit was set in withAuth.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// queryBool reads a boolean query parameter as kube-apiserver's conversion does
// (Convert_Slice_string_To_bool): absent is false, "false" and "0" in any case are false,
// anything else is true. The Python client sends watch=True.
func queryBool(q url.Values, key string) bool {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return false
	}
	switch strings.ToLower(v[0]) {
	case "false", "0":
		return false
	}
	return true
}
