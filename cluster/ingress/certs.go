package ingress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// FakeCertificateCN is the subject of the certificate served when no Ingress's TLS Secret
// fits the name asked for: ingress-nginx's "fake certificate", so a learner who has met
// that one recognises it (curl says "self-signed certificate").
const FakeCertificateCN = "Kubernetes Ingress Controller Fake Certificate"

// secretRef names the TLS Secret that serves a host: an Ingress's spec.tls entry.
type secretRef struct {
	ingress   *networkingv1.Ingress
	namespace string
	name      string
}

// pickTLS finds the spec.tls entry of ings (this controller's) that serves host, as the
// routes are picked: an entry naming the host exactly before one naming a matching
// *.wildcard, then an entry naming no host (it serves any); the oldest Ingress first.
// An entry without a secretName serves nothing (the default certificate answers).
func pickTLS(ings []*networkingv1.Ingress, host string) (secretRef, bool) {
	if host == "" {
		return secretRef{}, false // no SNI: the default certificate, as ingress-nginx
	}
	ings = append([]*networkingv1.Ingress(nil), ings...)
	sort.Slice(ings, func(i, j int) bool { return older(ings[i], ings[j]) })
	best, bestTier := secretRef{}, tierNone
	for _, ing := range ings {
		for _, t := range ing.Spec.TLS {
			if t.SecretName == "" {
				continue
			}
			tier := tierAny
			if len(t.Hosts) > 0 {
				tier = tierNone
				for _, h := range t.Hosts {
					tier = min(tier, hostTier(strings.ToLower(h), host))
				}
			}
			if tier < bestTier {
				best, bestTier = secretRef{ingress: ing, namespace: ing.Namespace, name: t.SecretName}, tier
			}
		}
	}
	return best, bestTier != tierNone
}

// certs reads TLS Secrets through the informer's lister and keeps each parsed key pair
// until the Secret's resourceVersion changes, so a handshake parses nothing twice and a
// renewed Secret is served at the next handshake.
type certs struct {
	secrets corelisters.SecretLister
	mu      sync.Mutex
	parsed  map[string]parsedCert // by namespace/name
}

type parsedCert struct {
	version string
	cert    *tls.Certificate
	err     error
}

// get returns the Secret's key pair, or an error saying why it cannot serve.
func (s *certs) get(ns, name string) (*tls.Certificate, error) {
	sec, err := s.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("TLS Secret %s/%s does not exist", ns, name)
	}
	if err != nil {
		return nil, err
	}
	key := ns + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.parsed[key]; ok && p.version == sec.ResourceVersion {
		return p.cert, p.err
	}
	cert, err := keyPair(sec)
	s.parsed[key] = parsedCert{version: sec.ResourceVersion, cert: cert, err: err}
	return cert, err
}

func (s *certs) forget(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.parsed, ns+"/"+name)
}

// keyPair parses a kubernetes.io/tls Secret's tls.crt and tls.key (ingress-nginx, too,
// takes any Secret holding both keys).
func keyPair(sec *corev1.Secret) (*tls.Certificate, error) {
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("Secret %s/%s (type %s) is not a TLS Secret: it needs %s and %s (kubectl create secret tls)",
			sec.Namespace, sec.Name, sec.Type, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	cert, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("Secret %s/%s: %s and %s are not a certificate and its key: %w", sec.Namespace, sec.Name,
			corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("Secret %s/%s: %s: %w", sec.Namespace, sec.Name, corev1.TLSCertKey, err)
		}
	}
	return &cert, nil
}

// certificateFor is the certificate the TLS listener presents for host (the client's
// SNI), with why it fell back to the default one ("" when it did not).
func (c *Controller) certificateFor(host string) (*tls.Certificate, string) {
	ref, ok := pickTLS(c.mine(), host)
	if !ok {
		return c.defaultCert, ""
	}
	cert, err := c.certs.get(ref.namespace, ref.name)
	if err != nil {
		return c.defaultCert, err.Error()
	}
	if err := cert.Leaf.VerifyHostname(host); err != nil {
		return c.defaultCert, fmt.Sprintf("the certificate of Secret %s/%s does not cover %s: %v", ref.namespace, ref.name, host, err)
	}
	return cert, ""
}

// getCertificate is the listener's tls.Config.GetCertificate.
func (c *Controller) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	cert, why := c.certificateFor(host)
	if why != "" {
		c.cfg.Logger.Debug("serving the default certificate", "host", host, "why", why)
	}
	return cert, nil
}

// mine lists the Ingresses this controller serves.
func (c *Controller) mine() []*networkingv1.Ingress {
	ings, _ := c.ingresses.List(labels.Everything())
	var out []*networkingv1.Ingress
	for _, ing := range ings {
		if c.ours(ing) {
			out = append(out, ing)
		}
	}
	return out
}

// tlsProblems says, for each spec.tls entry of ing, why its Secret cannot serve its hosts
// (missing, not a TLS Secret, a certificate for other names); none when all can.
func (c *Controller) tlsProblems(ing *networkingv1.Ingress) []string {
	var out []string
	for _, t := range ing.Spec.TLS {
		if t.SecretName == "" {
			continue
		}
		cert, err := c.certs.get(ing.Namespace, t.SecretName)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, h := range t.Hosts {
			if err := cert.Leaf.VerifyHostname(strings.ToLower(h)); err != nil {
				out = append(out, fmt.Sprintf("the certificate of Secret %s/%s does not cover host %s: %v", ing.Namespace, t.SecretName, h, err))
			}
		}
	}
	return out
}

// selfSigned makes the default certificate, valid for a year from now.
func selfSigned(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: FakeCertificateCN, Organization: []string{"Acme Co"}},
		DNSNames: []string{"ingress.local"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
