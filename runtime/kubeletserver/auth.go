package kubeletserver

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/certs"
)

// The kubelet runs commands as root in every container, so it answers only the API
// server: TLS on loopback, a client certificate required and verified against webkube's
// CA during the handshake, and then the certificate's identity checked (what the real
// kubelet's x509 authenticator and authorizer do for kube-apiserver's
// --kubelet-client-certificate). Anyone else fails the handshake or gets 401/403.

// nodeResource is what a refusal names, as the kubelet's authorizer does (nodes/proxy).
var nodeResource = schema.GroupResource{Resource: "nodes/proxy"}

// TLSConfig is the server side: this kubelet's serving certificate, and only clients with
// a certificate from ClientCAs.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.cfg.Certificate},
		ClientCAs:    s.cfg.ClientCAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: exec is a websocket upgrade.
		NextProtos: []string{"http/1.1"},
	}
}

// Listen listens for TLS on addr, which must be a loopback address: the API server, the
// only client, runs on this machine.
func (s *Server) Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kubeletserver: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("kubeletserver: listen address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kubeletserver: %w", err)
	}
	return tls.NewListener(ln, s.TLSConfig()), nil
}

// authenticate lets through only the API server's verified client certificate. The
// handshake already refused the rest when served by Listen; this also guards a Server
// mounted elsewhere.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			writeStatus(w, apierrors.NewUnauthorized("a client certificate from webkube's CA is required"))
			return
		}
		subj := r.TLS.VerifiedChains[0][0].Subject
		// The group, not the name: an approved CertificateSigningRequest gets a certificate
		// from the same CA with any common name, but never in system:masters (the API
		// server refuses such requests, as kube-apiserver's CertificateSubjectRestriction).
		if !slices.Contains(subj.Organization, certs.MastersGroup) {
			s.log.Warn("refused a client", "user", subj.CommonName, "groups", subj.Organization, "remote", r.RemoteAddr)
			writeStatus(w, apierrors.NewForbidden(nodeResource, "", fmt.Errorf("user %q may not use the kubelet API", subj.CommonName)))
			return
		}
		next.ServeHTTP(w, r)
	})
}
