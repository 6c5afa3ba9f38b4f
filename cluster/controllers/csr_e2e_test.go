package controllers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
)

// newCSR makes a key and a PEM certificate request for cn and orgs, as `openssl req` does
// in the docs' "Issue a certificate for a user" task.
func newCSR(t *testing.T, cn string, orgs ...string) (csrPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func csrYAML(name string, request []byte, signer, usages string) string {
	return fmt.Sprintf("apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: %s}\nspec:\n  request: %s\n  signerName: %s\n  expirationSeconds: 86400\n  usages: [%s]\n",
		name, base64.StdEncoding.EncodeToString(request), signer, usages)
}

// The docs' "Certificates and Certificate Signing Requests" task with the real kubectl: a
// user's request is created (the requester recorded from the credential, not the body),
// approved with `kubectl certificate approve`, signed by the csrsigning controller with
// the cluster CA (Approved,Issued), and the issued certificate, in a kubeconfig of its
// own, authenticates to the API server as the request's CN and O (`kubectl auth whoami`),
// with no more rights than RBAC gives that user. A denied request is never signed, a
// request the signer does not accept is marked Failed, bad requests are refused with
// kube-apiserver's messages.
func TestCertificateSigningRequestKubectl(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	ctx := context.Background()
	out := c.MustKubectl(t, "", "api-resources", "--api-group=certificates.k8s.io")
	if !strings.Contains(out, "certificatesigningrequests") || !strings.Contains(out, "csr") {
		t.Fatalf("api-resources:\n%s", out)
	}
	req, key := newCSR(t, "jane", "dev", "qa")
	c.MustKubectl(t, csrYAML("jane", req, "kubernetes.io/kube-apiserver-client", `"client auth"`), "apply", "-f", "-")
	out = c.MustKubectl(t, "", "get", "csr", "jane")
	for _, w := range []string{"SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION", "kubernetes.io/kube-apiserver-client", "kubernetes-admin", "24h", "Pending"} {
		if !strings.Contains(out, w) {
			t.Fatalf("get csr lacks %q:\n%s", w, out)
		}
	}
	// Nothing is signed before approval.
	time.Sleep(300 * time.Millisecond)
	if csr, err := c.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, "jane", metav1.GetOptions{}); err != nil || len(csr.Status.Certificate) > 0 {
		t.Fatalf("signed before approval (err %v)", err)
	}
	out = c.MustKubectl(t, "", "certificate", "approve", "jane")
	if !strings.Contains(out, "certificatesigningrequest.certificates.k8s.io/jane approved") {
		t.Fatalf("approve: %s", out)
	}
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "csr", "jane", "--no-headers")
		return strings.Contains(out, "Approved,Issued"), out
	})
	certB64 := c.MustKubectl(t, "", "get", "csr", "jane", "-o", "jsonpath={.status.certificate}")
	certPEM, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		t.Fatalf("certificate: %v: %q", err, certB64)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "jane" || len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth ||
		cert.NotAfter.Sub(cert.NotBefore) > 25*time.Hour || cert.NotAfter.Sub(cert.NotBefore) < 24*time.Hour {
		t.Fatalf("certificate: subject %v, ext usages %v, valid %v to %v", cert.Subject, cert.ExtKeyUsage, cert.NotBefore, cert.NotAfter)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.API.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("not signed by the cluster CA: %v", err)
	}

	// The certificate as jane's credential, in a kubeconfig with no token.
	dir := t.TempDir()
	kc := filepath.Join(dir, "jane.kubeconfig")
	os.WriteFile(filepath.Join(dir, "jane.crt"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "jane.key"), key, 0o600)
	os.WriteFile(filepath.Join(dir, "ca.crt"), c.API.CAData, 0o600)
	for _, a := range [][]string{
		{"set-cluster", "webkube", "--server=" + c.API.URL, "--certificate-authority=" + filepath.Join(dir, "ca.crt"), "--embed-certs"},
		{"set-credentials", "jane", "--client-certificate=" + filepath.Join(dir, "jane.crt"), "--client-key=" + filepath.Join(dir, "jane.key"), "--embed-certs"},
		{"set-context", "jane", "--cluster=webkube", "--user=jane"},
		{"use-context", "jane"},
	} {
		c.MustKubectl(t, "", append([]string{"config", "--kubeconfig", kc}, a...)...)
	}
	out = c.MustKubectl(t, "", "--kubeconfig", kc, "auth", "whoami")
	for _, w := range []string{"Username", "jane", "Groups", "dev", "qa", "system:authenticated", "X509SHA256="} {
		if !strings.Contains(out, w) {
			t.Fatalf("auth whoami as jane lacks %q:\n%s", w, out)
		}
	}
	if out, err := c.Kubectl(t, "", "--kubeconfig", kc, "get", "pods"); err == nil || !strings.Contains(out, `User "jane" cannot list resource "pods"`) {
		t.Fatalf("jane listed pods without a binding (%v):\n%s", err, out)
	}
	c.MustKubectl(t, "", "create", "rolebinding", "jane-view", "--clusterrole=view", "--group=dev")
	c.MustKubectl(t, "", "--kubeconfig", kc, "get", "pods")

	// Denied: never signed; and a decision stays.
	req2, _ := newCSR(t, "bob")
	c.MustKubectl(t, csrYAML("bob", req2, "kubernetes.io/kube-apiserver-client", `"client auth", "digital signature"`), "apply", "-f", "-")
	c.MustKubectl(t, "", "certificate", "deny", "bob")
	if out, err := c.Kubectl(t, "", "certificate", "approve", "bob"); err == nil || !strings.Contains(out, `"bob" is already Denied`) {
		t.Fatalf("kubectl approved a denied request (%v):\n%s", err, out)
	}
	// Through the API, as kube-apiserver: both decisions are refused, and none is taken back.
	bob, err := c.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, "bob", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	both := bob.DeepCopy()
	both.Status.Conditions = append(both.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Test"})
	if _, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "bob", both, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "Approved and Denied conditions are mutually exclusive") {
		t.Fatalf("approved and denied at once: %v", err)
	}
	none := bob.DeepCopy()
	none.Status.Conditions = nil
	if _, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "bob", none, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), `updates may not remove a condition of type "Denied"`) {
		t.Fatalf("denial taken back: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if out := c.MustKubectl(t, "", "get", "csr", "bob", "--no-headers"); !strings.Contains(out, "Denied") || strings.Contains(out, "Issued") {
		t.Fatalf("denied request: %s", out)
	}

	// Approving needs the approve verb on the signer too (kube's CertificateApproval
	// admission), not only the approval subresource.
	reqCarol, _ := newCSR(t, "carol")
	c.MustKubectl(t, csrYAML("carol", reqCarol, "kubernetes.io/kube-apiserver-client", `"client auth"`), "apply", "-f", "-")
	c.MustKubectl(t, "", "create", "serviceaccount", "approver")
	c.MustKubectl(t, "", "create", "clusterrole", "csr-approval", "--verb=get,list,update", "--resource=certificatesigningrequests,certificatesigningrequests/approval")
	c.MustKubectl(t, "", "create", "clusterrolebinding", "csr-approval", "--clusterrole=csr-approval", "--serviceaccount=default:approver")
	tok := strings.TrimSpace(c.MustKubectl(t, "", "create", "token", "approver"))
	if out, err := c.Kubectl(t, "", "--token", tok, "certificate", "approve", "carol"); err == nil ||
		!strings.Contains(out, `user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`) {
		t.Fatalf("approved without the approve verb on the signer (%v):\n%s", err, out)
	}
	c.MustKubectl(t, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-signer-approver}
rules: [{apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: ["kubernetes.io/*"], verbs: [approve]}]
`, "apply", "-f", "-")
	c.MustKubectl(t, "", "create", "clusterrolebinding", "csr-signer-approver", "--clusterrole=csr-signer-approver", "--serviceaccount=default:approver")
	c.MustKubectl(t, "", "--token", tok, "certificate", "approve", "carol")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "csr", "carol", "--no-headers")
		return strings.Contains(out, "Approved,Issued"), out
	})

	// A usage the signer does not sign: Failed, with kube's reason.
	req3, _ := newCSR(t, "server")
	c.MustKubectl(t, csrYAML("server", req3, "kubernetes.io/kube-apiserver-client", `"server auth"`), "apply", "-f", "-")
	c.MustKubectl(t, "", "certificate", "approve", "server")
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		out, _ := c.Kubectl(t, "", "get", "csr", "server", "-o", "jsonpath={.status.conditions[*].reason} {.status.conditions[*].message}")
		return strings.Contains(out, "SignerValidationFailure") && strings.Contains(out, "invalid usage for client certificate: server auth"), out
	})
	if out := c.MustKubectl(t, "", "get", "csr", "server", "--no-headers"); !strings.Contains(out, "Approved,Failed") {
		t.Fatalf("failed request: %s", out)
	}

	// Refused with kube-apiserver's messages; system:masters (every right, and the kubelets'
	// only client) is never asked for, as kube-apiserver's CertificateSubjectRestriction.
	masters, _ := newCSR(t, "mallory", "system:masters")
	for _, tc := range []struct{ yaml, want string }{
		{csrYAML("bad1", []byte("not a request"), "kubernetes.io/kube-apiserver-client", `"client auth"`), "PEM block type must be CERTIFICATE REQUEST"},
		{csrYAML("bad2", req, "kubernetes.io/kube-apiserver-client", ""), "spec.usages: Required value"},
		{csrYAML("bad3", req, "", `"client auth"`), "spec.signerName: Required value"},
		{csrYAML("bad4", req, "kubernetes.io/kube-apiserver-client", `"client auth", "flying"`), `spec.usages[1]: Unsupported value: "flying"`},
		{csrYAML("bad5", req, "kubernetes.io/legacy-unknown", `"client auth"`), "the legacy signerName is not allowed via this API version"},
		{csrYAML("bad6", masters, "kubernetes.io/kube-apiserver-client", `"client auth"`),
			"use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"},
	} {
		if out, err := c.Kubectl(t, tc.yaml, "create", "-f", "-"); err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("want refusal %q, got (%v):\n%s", tc.want, err, out)
		}
	}
}
