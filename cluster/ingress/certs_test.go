package ingress

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	webkubecerts "webkube/cluster/certs"
)

func tlsIngress(name string, age time.Duration, tls ...networkingv1.IngressTLS) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
		CreationTimestamp: metav1.NewTime(time.Unix(10000, 0).Add(-age))}, Spec: networkingv1.IngressSpec{TLS: tls}}
}

// The Secret for a server name (SNI): an exact host before a *.wildcard one (one label
// only) before an entry naming no host; the oldest Ingress at equal rank; no SNI, or an
// entry without a secretName, gets none (the default certificate).
func TestPickTLS(t *testing.T) {
	old := tlsIngress("old", time.Hour,
		networkingv1.IngressTLS{Hosts: []string{"*.example.com"}, SecretName: "wild"},
		networkingv1.IngressTLS{Hosts: []string{"Shop.Example.com"}, SecretName: "shop-old"})
	young := tlsIngress("young", time.Minute,
		networkingv1.IngressTLS{Hosts: []string{"shop.example.com", "api.example.com"}, SecretName: "shop-young"},
		networkingv1.IngressTLS{Hosts: []string{"blog.example.org"}}, // no secretName
		networkingv1.IngressTLS{SecretName: "any"})
	for _, c := range []struct{ host, want string }{
		{"shop.example.com", "shop-old"},
		{"api.example.com", "shop-young"},
		{"cart.example.com", "wild"},
		{"a.cart.example.com", "any"},
		{"blog.example.org", "any"},
		{"", ""},
	} {
		ref, ok := pickTLS([]*networkingv1.Ingress{young, old}, c.host)
		if ok != (c.want != "") || ref.name != c.want {
			t.Errorf("%q: got %q (%v), want %q", c.host, ref.name, ok, c.want)
		}
	}
	if ref, ok := pickTLS([]*networkingv1.Ingress{old}, "other.org"); ok {
		t.Errorf("other.org: got %q, want none", ref.name)
	}
}

// A Secret serves TLS only with a tls.crt and tls.key that are a certificate and its key;
// otherwise the error names the Secret and what is wrong.
func TestKeyPair(t *testing.T) {
	ca, err := webkubecerts.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(webkubecerts.Request{CommonName: "shop", Hosts: []string{"shop.example.com"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ca.Issue(webkubecerts.Request{CommonName: "other", Hosts: []string{"x"}}, time.Now())
	secret := func(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}, Type: typ, Data: data}
	}
	got, err := keyPair(secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": crt, "tls.key": key}))
	if err != nil || got.Leaf == nil || got.Leaf.VerifyHostname("shop.example.com") != nil {
		t.Fatalf("a valid tls Secret: %v %v", got, err)
	}
	for _, c := range []struct {
		s    *corev1.Secret
		want string
	}{
		{secret(corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("x")}), "Secret default/s (type Opaque) is not a TLS Secret: it needs tls.crt and tls.key"},
		{secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": crt, "tls.key": otherKey}), "Secret default/s: tls.crt and tls.key are not a certificate and its key: tls: private key does not match public key"},
		{secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("junk"), "tls.key": key}), "Secret default/s: tls.crt and tls.key are not a certificate and its key"},
	} {
		if _, err := keyPair(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
