package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"webkube/cluster/certs"
)

// kubectl (client-go's clientcmd) only sends a kubeconfig's token over TLS: against a
// plain-http server it drops the credentials and every request is 401. So the API
// server serves HTTPS with a certificate from webkube's CA, and the kubeconfig carries
// the CA as its certificate authority.

// LoadOrCreateTLS returns a server TLS config from dir/apiserver.crt and
// dir/apiserver.key, issuing a certificate from ca for hosts (IPs or DNS names;
// 127.0.0.1 and localhost are always included) when they do not exist yet. certPEM is
// the certificate to trust (the kubeconfig's certificate-authority-data): the CA, or,
// for a data dir from before the CA, the self-signed certificate kept there, so that
// kubeconfigs already handed out stay valid.
func LoadOrCreateTLS(ca *certs.CA, dir string, hosts []string, now time.Time) (cfg *tls.Config, certPEM []byte, err error) {
	certPath, keyPath := filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	_, err = os.Stat(certPath)
	if err == nil && lacksHosts(ca, certPath, hosts, now) {
		err = os.ErrNotExist // issued by our CA for fewer names (an older webkube): issue again
	}
	if errors.Is(err, os.ErrNotExist) {
		certPEM, keyPEM, err := ca.Issue(certs.Request{CommonName: "webkube-apiserver", Organization: []string{"webkube"},
			Hosts: append([]string{"127.0.0.1", "localhost"}, hosts...)}, now)
		if err != nil {
			return nil, nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading apiserver certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("loading apiserver certificate: %w", err)
	}
	trust := ca.PEM
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now}); err != nil {
		if trust, err = os.ReadFile(certPath); err != nil {
			return nil, nil, err
		}
	}
	// A client certificate is asked for, never required, and checked by the authenticator
	// (Config.ClientCA), so one the CA did not sign gets 401 as from kube-apiserver, not
	// a failed handshake; ClientCAs only tells clients which CA to choose a certificate by.
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequestClientCert, ClientCAs: ca.Pool()}, trust, nil
}

// lacksHosts says whether the certificate at path comes from ca but does not cover every
// host (the `kubernetes` Service's IP and names came later than the first certificates).
// A certificate from elsewhere is kept as it is.
func lacksHosts(ca *certs.CA, path string, hosts []string, now time.Time) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now}); err != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return true
		}
	}
	return false
}

// KubernetesHosts are the names and address pods use for the API server: the `kubernetes`
// Service's ClusterIP (the first address of serviceCIDR) and its DNS names.
func KubernetesHosts(serviceCIDR string) ([]string, error) {
	ip, err := firstIP(serviceCIDR)
	if err != nil {
		return nil, err
	}
	return []string{ip.String(), "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}, nil
}
