package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Now()
	ca, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"ca.key": 0o600, "ca.crt": 0o644, ".": 0o700} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	again, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.PEM) != string(ca.PEM) {
		t.Fatal("a second start made a new CA: every certificate issued before would stop being trusted")
	}
	// The reloaded CA signs what the first one's pool trusts.
	cert, err := again.IssueTLS(Request{CommonName: "x", Hosts: []string{"127.0.0.1"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrNotACA", func(t *testing.T) {
		bad := t.TempDir()
		certPEM, keyPEM, err := ca.Issue(Request{CommonName: "leaf"}, now)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(bad, "ca.crt"), certPEM, 0o644)
		os.WriteFile(filepath.Join(bad, "ca.key"), keyPEM, 0o600)
		if _, err := LoadOrCreateCA(bad, now); err == nil {
			t.Fatal("a leaf certificate was accepted as the CA")
		}
	})
}

func TestIssueUsages(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.IssueTLS(Request{CommonName: "system:node:n", Hosts: []string{"127.0.0.1", "n"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.KubeletClientTLS(now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := client.Certificates[0].Leaf
	if leaf.Subject.CommonName != KubeletClientUser || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != MastersGroup {
		t.Fatalf("client certificate subject %v", leaf.Subject)
	}
	verify := func(c *x509.Certificate, name string, usage x509.ExtKeyUsage) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	if err := verify(server.Leaf, "127.0.0.1", x509.ExtKeyUsageServerAuth); err != nil {
		t.Fatal(err)
	}
	if err := verify(server.Leaf, "n", x509.ExtKeyUsageServerAuth); err != nil {
		t.Fatal(err)
	}
	if err := verify(leaf, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Fatal(err)
	}
	// Neither can stand in for the other.
	if verify(server.Leaf, "", x509.ExtKeyUsageClientAuth) == nil {
		t.Fatal("a serving certificate works as a client certificate")
	}
	if verify(leaf, "127.0.0.1", x509.ExtKeyUsageServerAuth) == nil {
		t.Fatal("the client certificate works as a serving certificate")
	}
}
