package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// withImpersonation acts as another user when the request asks to (kubectl --as, --as-group:
// Impersonate-User, Impersonate-Group, Impersonate-Uid, Impersonate-Extra-*) and its
// user may impersonate each of them, as kube-apiserver's impersonation filter; e.g.
// `kubectl auth can-i list pods --as=system:serviceaccount:team:default`.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get("Impersonate-User")
		groups := r.Header.Values("Impersonate-Group")
		uid := r.Header.Get("Impersonate-Uid")
		extra := map[string][]string{}
		for k, v := range r.Header {
			if key, ok := strings.CutPrefix(k, "Impersonate-Extra-"); ok {
				extra[strings.ToLower(key)] = v
			}
		}
		u := requestUser(r.Context())
		if u == nil || (name == "" && len(groups) == 0 && uid == "" && len(extra) == 0) {
			next.ServeHTTP(w, r)
			return
		}
		if name == "" {
			refuseBody(w, r)
			s.writeError(w, r, apierrors.NewBadRequest("requested impersonation of groups, uid or extra without impersonating a user"))
			return
		}
		as, err := s.impersonate(r, u, name, groups, uid, extra)
		if err != nil {
			refuseBody(w, r)
			s.writeError(w, r, err)
			return
		}
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), as)))
	})
}

// impersonate checks that u may impersonate each part of the new user and builds it.
func (s *Server) impersonate(r *http.Request, u *userInfo, name string, groups []string, uid string, extra map[string][]string) (*userInfo, error) {
	check := func(group, resource, ns, n, sub string) error {
		a := attributes{user: u, verb: "impersonate", resourceRequest: true, group: group, resource: resource, namespace: ns, name: n, sub: sub}
		if ok, reason, _ := s.authz.authorize(r.Context(), a); !ok {
			return forbidden(a, reason)
		}
		return nil
	}
	as := &userInfo{Name: name, UID: uid}
	if rest, ok := strings.CutPrefix(name, "system:serviceaccount:"); ok && strings.Count(rest, ":") == 1 {
		ns, sa, _ := strings.Cut(rest, ":")
		if err := check("", "serviceaccounts", ns, sa, ""); err != nil {
			return nil, err
		}
		if len(groups) == 0 {
			groups = []string{groupServiceAccounts, groupServiceAccounts + ":" + ns}
		}
	} else if err := check("", "users", "", name, ""); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := check("", "groups", "", g, ""); err != nil {
			return nil, err
		}
	}
	if uid != "" {
		if err := check("authentication.k8s.io", "uids", "", uid, ""); err != nil {
			return nil, err
		}
	}
	for k, vs := range extra {
		for _, v := range vs {
			if err := check("authentication.k8s.io", "userextras", "", v, k); err != nil {
				return nil, err
			}
		}
		if as.Extra == nil {
			as.Extra = map[string][]string{}
		}
		as.Extra[k] = vs
	}
	as.Groups = groups
	if name != anonymousUser.Name && !hasAny(groups, groupAuthenticated, "system:unauthenticated") {
		as.Groups = append(append([]string{}, groups...), groupAuthenticated)
	}
	return as, nil
}

func hasAny(set []string, vals ...string) bool {
	for _, v := range vals {
		if hasOrStar(set, v, "") {
			return true
		}
	}
	return false
}
