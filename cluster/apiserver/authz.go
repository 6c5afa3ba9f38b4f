package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// attributes is what a request asks to do, as kube-apiserver's authorizer.Attributes:
// read from the URL alone (not from the routes), so every resource served, whoever
// added it, is authorized the same way, and an unknown one is refused before it is
// looked up.
type attributes struct {
	user *userInfo
	verb string
	// resource requests
	resourceRequest bool
	group, version  string
	resource, sub   string
	namespace, name string
	// non-resource requests (/version, /api, /healthz, …)
	path string
}

// authorizer decides requests; reason says which rule allowed or why none did.
type authorizer interface {
	authorize(ctx context.Context, a attributes) (allowed bool, reason string, err error)
}

// requestAttributes follows kube-apiserver's RequestInfoFactory: /api/v1/... and
// /apis/<group>/<version>/... with an optional namespaces/<ns>/ (namespaces/<ns> itself
// names the namespace, with its status and finalize subresources), then resource, name
// and subresource. GET without a name is list (watch with ?watch=true or /watch/),
// DELETE without one deletecollection; a list with fieldSelector metadata.name=x is
// about x.
func requestAttributes(r *http.Request, u *userInfo) attributes {
	a := attributes{user: u, path: r.URL.Path, verb: strings.ToLower(r.Method)}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || (parts[0] != "api" && parts[0] != "apis") || (parts[0] == "apis" && len(parts) < 4) {
		return a
	}
	a.resourceRequest = true
	if parts[0] == "apis" {
		a.group, parts = parts[1], parts[2:]
	} else {
		parts = parts[1:]
	}
	a.version, parts = parts[0], parts[1:]
	watch := false
	if parts[0] == "watch" {
		watch, parts = true, parts[1:]
	}
	if len(parts) > 0 && parts[0] == "namespaces" && len(parts) > 1 {
		a.namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	if len(parts) > 0 {
		a.resource = parts[0]
	}
	if len(parts) > 1 {
		a.name = parts[1]
	}
	if len(parts) > 2 {
		a.sub = parts[2]
	}
	q := r.URL.Query()
	watch = watch || queryBool(q, "watch")
	a.verb = methodVerb(r.Method)
	switch {
	case watch:
		a.verb = "watch"
	case a.name == "" && a.verb == "get":
		a.verb = "list"
	case a.name == "" && a.verb == "delete":
		a.verb = "deletecollection"
	}
	if a.name == "" && (a.verb == "list" || a.verb == "watch") {
		if fs, err := fields.ParseSelector(q.Get("fieldSelector")); err == nil {
			if name, ok := fs.RequiresExactMatch("metadata.name"); ok {
				a.name = name
			}
		}
	}
	return a
}

func methodVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}

// withAuthorization refuses what the request's user may not do with kube-apiserver's 403.
func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := requestUser(r.Context())
		// system:masters may do anything: its requests skip reading the URL again.
		if u == nil || isHealthPath(r.URL.Path) || u.inGroup(groupMasters) {
			next.ServeHTTP(w, r)
			return
		}
		a := requestAttributes(r, u)
		for _, a := range append([]attributes{a}, connectCreate(a)...) {
			ok, reason, err := s.authz.authorize(r.Context(), a)
			if err != nil {
				s.log.Warn("authorizing", "user", u.Name, "verb", a.verb, "path", a.path, "err", err)
			}
			if !ok {
				refuseBody(w, r)
				s.writeError(w, r, forbidden(a, reason))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// connectCreate is the second check a websocket exec, attach or port-forward gets: its
// upgrade is a GET, so the request is a "get" of pods/exec, but it runs a command as
// SPDY's POST ("create") does. kube-apiserver 1.35+ (AuthorizePodWebsocketUpgradeCreatePermission,
// on by default) also requires "create" on the subresource, so a role with only the read
// verbs on pods/exec cannot exec; webkube does the same.
func connectCreate(a attributes) []attributes {
	if !a.resourceRequest || a.verb != "get" || a.group != "" || a.resource != "pods" {
		return nil
	}
	switch a.sub {
	case "exec", "attach", "portforward":
		a.verb = "create"
		return []attributes{a}
	}
	return nil
}

// forbidden is kube-apiserver's 403: `pods is forbidden: User "x" cannot list resource
// "pods" in API group "" in the namespace "default"`.
func forbidden(a attributes, reason string) error {
	msg := forbiddenMessage(a)
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.group, Resource: a.resource}, a.name, fmt.Errorf("%s", msg))
}

func forbiddenMessage(a attributes) string {
	name := a.user.Name
	if !a.resourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", name, a.verb, a.path)
	}
	res := a.resource
	if a.sub != "" {
		res += "/" + a.sub
	}
	if a.namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", name, a.verb, res, a.group, a.namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", name, a.verb, res, a.group)
}
