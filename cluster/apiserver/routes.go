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

// handler serves one request for a target; the dispatch functions below pick it.
type handler func(http.ResponseWriter, *http.Request, target) error

// dispatch serves a request for a resource. Reviews, metrics and views have handlers of
// their own that take every URL shape; every other resource is routed by what the URL
// names (the collection, one object, or one of its subresources) and then by the method.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, t target) error {
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
	if t.res.namespaced && t.namespace == "" && (t.name != "" || r.Method != http.MethodGet) {
		return errNoRoute // namespaced objects are only written (and named) under a namespace
	}
	var h handler
	switch {
	case t.name == "":
		h = s.collectionHandler(r, t)
	case t.sub == "":
		h = s.objectHandler(r, t)
	default:
		h = s.subresourceHandler(r.Method, t.sub)
	}
	if h == nil {
		return apierrors.NewMethodNotSupported(t.res.gr(), r.Method)
	}
	return h(w, r, t)
}

// isWatch: a watch is a GET with ?watch=true or a GET under the deprecated /watch/ prefix.
func isWatch(r *http.Request, t target) bool {
	return t.legacyWatch || queryBool(r.URL.Query(), "watch")
}

// collectionHandler serves a URL without a name (.../pods); nil if the method is not served.
func (s *Server) collectionHandler(r *http.Request, t target) handler {
	switch r.Method {
	case http.MethodGet:
		if isWatch(r, t) {
			return s.serveWatch
		}
		return s.serveList
	case http.MethodPost:
		return s.serveCreate
	case http.MethodDelete:
		return s.serveDeleteCollection
	}
	return nil
}

// objectHandler serves a URL naming one object (.../pods/web); a watch of one object is
// a watch of the collection narrowed to that name.
func (s *Server) objectHandler(r *http.Request, t target) handler {
	switch r.Method {
	case http.MethodGet:
		if isWatch(r, t) {
			return s.serveWatch
		}
		return s.serveGet
	case http.MethodPut:
		return s.serveUpdate
	case http.MethodPatch:
		return s.servePatch
	case http.MethodDelete:
		return s.serveDelete
	}
	return nil
}

// subresourceHandler serves a subresource (.../pods/web/status); nil if the pair of
// subresource and method is not served. parseTarget already checked that the resource
// has the subresource.
func (s *Server) subresourceHandler(method, sub string) handler {
	get, post := method == http.MethodGet, method == http.MethodPost
	switch sub {
	case "status", "approval", "ephemeralcontainers":
		// Parts of the object written by their own clients, read and written like it.
		switch method {
		case http.MethodGet:
			return s.serveGet
		case http.MethodPut:
			return s.serveUpdate
		case http.MethodPatch:
			return s.servePatch
		}
	case "scale":
		if get || method == http.MethodPut || method == http.MethodPatch {
			return s.serveScale
		}
	case "binding":
		if post {
			return s.serveBinding
		}
	case "token":
		if post {
			return s.serveToken
		}
	case "eviction":
		if post {
			return s.serveEviction
		}
	case "log":
		if get {
			return s.kubeletProxy("containerLogs")
		}
	case "exec", "attach":
		// Streams: a websocket upgrade comes as GET, a SPDY upgrade as POST.
		if get || post {
			return s.kubeletProxy(sub)
		}
	case "portforward":
		if get || post { // as exec
			return s.servePortForward
		}
	}
	return nil
}

// kubeletProxy passes the request on to the pod's kubelet at kubeletPath.
func (s *Server) kubeletProxy(kubeletPath string) handler {
	return func(w http.ResponseWriter, r *http.Request, t target) error {
		return s.serveProxy(w, r, t, kubeletPath)
	}
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
