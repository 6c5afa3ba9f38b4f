package apiserver

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Service account tokens are JWTs signed RS256 with the data dir's sa.key, with the
// claims kube-apiserver puts in bound tokens, so client-go, `kubectl create token` and a
// learner pasting one into jwt.io all see what a real cluster hands out.

// DefaultIssuer is kube-apiserver's default --service-account-issuer; it is also the
// audience the API server accepts.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// boundRef is a "kubernetes.io" claim naming an object the token lives and dies with.
type boundRef struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid"`
}

type k8sClaims struct {
	Namespace      string    `json:"namespace"`
	ServiceAccount boundRef  `json:"serviceaccount"`
	Pod            *boundRef `json:"pod,omitempty"`
	Secret         *boundRef `json:"secret,omitempty"`
	WarnAfter      int64     `json:"warnafter,omitempty"`
}

type tokenClaims struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  []string  `json:"aud"`
	Expiry    int64     `json:"exp"`
	IssuedAt  int64     `json:"iat"`
	NotBefore int64     `json:"nbf"`
	ID        string    `json:"jti,omitempty"`
	K8s       k8sClaims `json:"kubernetes.io"`
}

// tokenSigner signs and verifies service account tokens.
type tokenSigner struct {
	key    *rsa.PrivateKey
	kid    string
	issuer string
}

func newTokenSigner(key *rsa.PrivateKey, issuer string) (*tokenSigner, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &tokenSigner{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:]), issuer: issuer}, nil
}

var b64 = base64.RawURLEncoding

func (ts *tokenSigner) sign(c tokenClaims) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": ts.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signed := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64.EncodeToString(sig), nil
}

var errNotOurToken = errors.New("not a service account token of this cluster")

// verify checks the signature, issuer, audience and times of a token; whether the objects
// it is bound to still exist is the caller's to check.
func (ts *tokenSigner) verify(token string, now time.Time) (*tokenClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errNotOurToken
	}
	var header struct{ Alg, Kid string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "RS256" {
		return nil, errNotOurToken
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errNotOurToken
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&ts.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, errNotOurToken
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errNotOurToken
	}
	var c tokenClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, errNotOurToken
	}
	if c.Issuer != ts.issuer {
		return nil, fmt.Errorf("token issuer %q is not %q", c.Issuer, ts.issuer)
	}
	audOK := false
	for _, a := range c.Audience {
		audOK = audOK || a == ts.issuer
	}
	if !audOK {
		return nil, errors.New("token audiences are not the API server's")
	}
	if t := now.Unix(); t >= c.Expiry || t < c.NotBefore-60 {
		return nil, errors.New("token has expired")
	}
	return &c, nil
}
