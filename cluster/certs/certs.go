// Package certs is webkube's certificate authority. One CA, kept in the data dir, issues
// the API server's serving certificate, each kubelet's serving certificate and the client
// certificate the API server presents to kubelets, as kubeadm's ca.crt does. A kubelet
// answers only a client whose certificate this CA issued.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The identity the API server presents to kubelets, as kube-apiserver's
// --kubelet-client-certificate carries it.
const (
	KubeletClientUser = "kube-apiserver-kubelet-client"
	MastersGroup      = "system:masters"
)

// validity of every certificate webkube makes. Leaf certificates are issued again at
// every start, so only the CA's matters in practice.
const validity = 10 * 365 * 24 * time.Hour

// CA issues certificates.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, what clients trust (a kubeconfig's certificate-authority-data).
	PEM []byte
}

// LoadOrCreateCA reads dir/ca.crt and dir/ca.key, creating them when missing. The key is
// 0600 in a 0700 dir: whoever reads it can talk to every kubelet.
func LoadOrCreateCA(dir string, now time.Time) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		ca, err := NewCA(now)
		if err != nil {
			return nil, err
		}
		keyPEM, err := ca.keyPEM()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// The key first: a crash in between leaves no certificate without its key.
		if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := writeFile(certPath, ca.PEM, 0o644); err != nil {
			return nil, err
		}
		return ca, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca %s: %w", certPath, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ca %s: key is not ECDSA", keyPath)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("ca %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca %s: not a CA certificate", certPath)
	}
	return &CA{cert: cert, key: key, PEM: certPEM}, nil
}

// NewCA makes a CA in memory (tests, and LoadOrCreateCA the first time).
func NewCA(now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(pkix.Name{CommonName: "webkube-ca", Organization: []string{"webkube"}}, now)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Pool is a pool holding the CA, for RootCAs and ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Request describes a certificate to issue.
type Request struct {
	CommonName   string
	Organization []string
	// Hosts (IPs or DNS names) make a serving certificate; without them it is a client one.
	Hosts []string
}

// Issue signs a new key for req and returns it as PEM.
func (ca *CA) Issue(req Request, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := template(pkix.Name{CommonName: req.CommonName, Organization: req.Organization}, now)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if len(req.Hosts) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	for _, h := range req.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// IssueTLS is Issue as a tls.Certificate, for a certificate kept only in memory.
func (ca *CA) IssueTLS(req Request, now time.Time) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.Issue(req, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// KubeletClientTLS is the client config the API server uses towards kubelets: it presents
// a fresh KubeletClientUser certificate and trusts only kubelets this CA issued for.
func (ca *CA) KubeletClientTLS(now time.Time) (*tls.Config, error) {
	cert, err := ca.IssueTLS(Request{CommonName: KubeletClientUser, Organization: []string{MastersGroup}}, now)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, nil
}

func (ca *CA) keyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func template(subject pkix.Name, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{SerialNumber: serial, Subject: subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity)}, nil
}

// writeFile writes through a temporary file and a rename, so a crash never leaves half a
// key or certificate.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	// A leftover .tmp would keep its old mode.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
