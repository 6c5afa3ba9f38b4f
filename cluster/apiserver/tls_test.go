package apiserver

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"webkube/cluster/certs"
)

// servedCertTrusted reports whether trustPEM (a kubeconfig's certificate-authority-data) trusts
// the certificate cfg serves for 127.0.0.1.
func servedCertTrusted(t *testing.T, dir string, ca *certs.CA) ([]byte, error) {
	t.Helper()
	cfg, trust, err := LoadOrCreateTLS(ca, dir, []string{"10.0.0.5"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(trust)
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"})
	return trust, err
}

func TestLoadOrCreateTLS(t *testing.T) {
	ca, err := certs.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		trust, err := servedCertTrusted(t, dir, ca)
		if err != nil {
			t.Fatal(err)
		}
		if string(trust) != string(ca.PEM) {
			t.Fatal("a new data dir's kubeconfig should trust the CA")
		}
		if _, err := servedCertTrusted(t, dir, ca); err != nil { // the second start loads it
			t.Fatal(err)
		}
	})
	t.Run("OKSelfSignedFromBefore", func(t *testing.T) {
		// A data dir from before the CA keeps its self-signed certificate, so kubeconfigs
		// handed out then stay valid.
		dir := t.TempDir()
		old, err := certs.NewCA(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := old.Issue(certs.Request{CommonName: "webkube-apiserver", Hosts: []string{"127.0.0.1"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "apiserver.crt"), certPEM, 0o644)
		os.WriteFile(filepath.Join(dir, "apiserver.key"), keyPEM, 0o600)
		trust, err := servedCertTrusted(t, dir, ca)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := pem.Decode(trust); b == nil || string(trust) != string(certPEM) {
			t.Fatal("the old certificate should stay the one to trust")
		}
	})
}
