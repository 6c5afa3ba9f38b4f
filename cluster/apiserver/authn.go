package apiserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// userInfo is who a request comes from, as kube-apiserver's user.Info: what RBAC
// bindings name and what `kubectl auth whoami` shows.
type userInfo struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// The groups kube-apiserver gives: system:masters passes every authorization check
// (kubeadm's admin.conf is in it); every authenticated user is in system:authenticated.
const (
	groupMasters         = "system:masters"
	groupAuthenticated   = "system:authenticated"
	groupServiceAccounts = "system:serviceaccounts"
	// AdminUser is the admin token's user name, kubeadm's admin.conf's.
	AdminUser = "kubernetes-admin"
)

// adminUser holds the admin token: every webkube component (scheduler, controllers,
// kubelets, proxy, DNS, dashboard) runs inside this one process with that credential.
var adminUser = &userInfo{Name: AdminUser, Groups: []string{groupMasters, groupAuthenticated}}

// anonymousUser asks for the health endpoints without a token.
var anonymousUser = &userInfo{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}

func (u *userInfo) inGroup(g string) bool {
	for _, x := range u.Groups {
		if x == g {
			return true
		}
	}
	return false
}

type userKey struct{}

func withUser(ctx context.Context, u *userInfo) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// requestUser is the authenticated user of a request's context; nil for the server's
// own work (bootstrap, finalizers), which is not authorized.
func requestUser(ctx context.Context) *userInfo {
	u, _ := ctx.Value(userKey{}).(*userInfo)
	return u
}

// authenticate returns the user a request's client certificate or bearer token stands
// for: a certificate the cluster CA signed is its subject's (checked first, as
// kube-apiserver's x509 authenticator); a token is the admin token's user, or a live
// service account token's (signed by us, not expired, and its service account, and the
// pod or secret it is bound to, still the very objects it was issued for). nil: not
// authenticated.
func (s *Server) authenticate(r *http.Request) *userInfo {
	if u := s.certificateUser(r.TLS); u != nil {
		return u
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil
	}
	return s.authenticateToken(r.Context(), bearer)
}

func (s *Server) authenticateToken(ctx context.Context, bearer string) *userInfo {
	// Constant time: how long a comparison takes must not tell how much matched.
	if subtle.ConstantTimeCompare([]byte(bearer), []byte(s.cfg.Token)) == 1 {
		return adminUser
	}
	if s.tokens == nil {
		return nil
	}
	c, err := s.tokens.verify(bearer, s.clock.Now())
	if err != nil {
		return nil
	}
	alive := func(res string, name string, uid types.UID) bool {
		obj, _, err := s.getObject(ctx, resourceFor(coreGR(res)), c.K8s.Namespace, name)
		return err == nil && mustMeta(obj).GetUID() == uid && mustMeta(obj).GetDeletionTimestamp() == nil
	}
	if !alive("serviceaccounts", c.K8s.ServiceAccount.Name, c.K8s.ServiceAccount.UID) {
		return nil
	}
	if p := c.K8s.Pod; p != nil && !alive("pods", p.Name, p.UID) {
		return nil
	}
	if sec := c.K8s.Secret; sec != nil && !alive("secrets", sec.Name, sec.UID) {
		return nil
	}
	return serviceAccountInfo(c)
}

// serviceAccountInfo is the user of a service account token, as kube-apiserver makes it.
func serviceAccountInfo(c *tokenClaims) *userInfo {
	ns := c.K8s.Namespace
	u := &userInfo{
		Name:   serviceAccountUser(ns, c.K8s.ServiceAccount.Name),
		UID:    string(c.K8s.ServiceAccount.UID),
		Groups: []string{groupServiceAccounts, groupServiceAccounts + ":" + ns, groupAuthenticated},
		Extra:  map[string][]string{},
	}
	if c.ID != "" {
		u.Extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + c.ID}
	}
	if p := c.K8s.Pod; p != nil {
		u.Extra["authentication.kubernetes.io/pod-name"] = []string{p.Name}
		u.Extra["authentication.kubernetes.io/pod-uid"] = []string{string(p.UID)}
	}
	return u
}

// certificateUser is the user of a client certificate Config.ClientCA signed, as
// kube-apiserver's x509 authenticator makes it: the common name, the organizations as
// groups. The TLS layer only asks for a certificate, so one from another CA reaches here
// and is no credential (a token may still be: kube-apiserver tries each authenticator);
// with nothing else the request gets 401, as from kube-apiserver.
func (s *Server) certificateUser(st *tls.ConnectionState) *userInfo {
	if st == nil || len(st.PeerCertificates) == 0 || s.cfg.ClientCA == nil {
		return nil
	}
	leaf := st.PeerCertificates[0]
	opts := x509.VerifyOptions{Roots: s.cfg.ClientCA, Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: s.clock.Now()}
	for _, c := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		s.log.Debug("client certificate refused", "subject", leaf.Subject.String(), "err", err)
		return nil
	}
	if leaf.Subject.CommonName == "" {
		return nil
	}
	sum := sha256.Sum256(leaf.Raw)
	groups := append(append([]string(nil), leaf.Subject.Organization...), groupAuthenticated)
	return &userInfo{Name: leaf.Subject.CommonName, Groups: groups,
		Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=" + hex.EncodeToString(sum[:])}}}
}
