package apiserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/certs"
)

// A client certificate is a credential only if the cluster's CA signed it, as with
// kube-apiserver's --client-ca-file; one from another CA gets 401 Unauthorized, not a
// failed TLS handshake, and a valid token beside it still counts (kube-apiserver tries
// each authenticator in turn).
func TestClientCertificates(t *testing.T) {
	srv := apiservertest.Start(t)
	other, err := certs.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *certs.CA, cn string, groups ...string) tls.Certificate {
		cert, err := ca.IssueTLS(certs.Request{CommonName: cn, Organization: groups}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	whoami := func(cert tls.Certificate, token string) (int, string) {
		t.Helper()
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(srv.CAData)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}}
		req, _ := http.NewRequest("POST", srv.URL+"/apis/authentication.k8s.io/v1/selfsubjectreviews",
			strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request with a client certificate: %v", err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var review struct {
			Status struct {
				UserInfo struct {
					Username string
					Groups   []string
				}
			}
		}
		_ = json.Unmarshal(b, &review)
		if res.StatusCode != http.StatusCreated {
			return res.StatusCode, string(b)
		}
		return res.StatusCode, review.Status.UserInfo.Username + " " + strings.Join(review.Status.UserInfo.Groups, ",")
	}

	if code, who := whoami(issue(srv.CA, "jane", "dev"), ""); code != http.StatusCreated || who != "jane dev,system:authenticated" {
		t.Errorf("the cluster CA's certificate: %d %s, want jane in dev", code, who)
	}
	code, body := whoami(issue(other, "mallory", "system:masters"), "")
	if code != http.StatusUnauthorized || !strings.Contains(body, `"reason":"Unauthorized"`) {
		t.Errorf("another CA's certificate: %d %s, want 401 Unauthorized", code, body)
	}
	if code, who := whoami(issue(other, "mallory", "system:masters"), srv.Token); code != http.StatusCreated ||
		!strings.HasPrefix(who, "kubernetes-admin ") {
		t.Errorf("another CA's certificate with the admin token: %d %s, want the token's user", code, who)
	}
}
