package certs

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// backdate is how far before now a signed certificate starts, as kube-controller-manager's
// signer does, so a client whose clock is a little behind can use it at once.
const backdate = 5 * time.Minute

// SignRequest is a certificate for an approved CertificateSigningRequest: the request's
// subject, names and key, signed by the CA for the given usages, valid for ttl (never
// past the CA's own end).
type SignRequest struct {
	Request     *x509.CertificateRequest
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	TTL         time.Duration
}

// Sign returns the signed certificate as PEM.
func (ca *CA) Sign(req SignRequest, now time.Time) ([]byte, error) {
	cr := req.Request
	if cr == nil {
		return nil, errors.New("sign: no request")
	}
	if err := cr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign: the request's signature: %w", err)
	}
	tmpl, err := template(cr.Subject, now)
	if err != nil {
		return nil, err
	}
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(req.TTL)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.DNSNames, tmpl.IPAddresses, tmpl.EmailAddresses, tmpl.URIs = cr.DNSNames, cr.IPAddresses, cr.EmailAddresses, cr.URIs
	tmpl.KeyUsage, tmpl.ExtKeyUsage = req.KeyUsage, req.ExtKeyUsage
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, cr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
