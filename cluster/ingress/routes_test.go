package ingress

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPathMatches(t *testing.T) {
	exact, prefix := networkingv1.PathTypeExact, networkingv1.PathTypePrefix
	for _, c := range []struct {
		pt        *networkingv1.PathType
		rule, req string
		wantMatch bool
	}{
		{&prefix, "/", "/anything", true},
		{&prefix, "/foo", "/foo", true},
		{&prefix, "/foo", "/foo/", true},
		{&prefix, "/foo/", "/foo", true},
		{&prefix, "/foo", "/foo/bar", true},
		{&prefix, "/foo", "/foobar", false},
		{&prefix, "/aaa/bb", "/aaa/bbb", false},
		{&prefix, "/aaa/bbb", "/aaa/bbb/ccc", true},
		{&exact, "/foo", "/foo", true},
		{&exact, "/foo", "/foo/", false},
		{&exact, "/foo", "/FOO", false},
	} {
		if got := pathMatches(c.pt, c.rule, c.req); got != c.wantMatch {
			t.Errorf("%s %q against %q: got %v, want %v", *c.pt, c.rule, c.req, got, c.wantMatch)
		}
	}
}

func backend(svc string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
}

func path(pt networkingv1.PathType, p, svc string) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: &pt, Backend: backend(svc)}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

// Two Ingresses merged as one table: longest path wins, Exact before Prefix at equal
// length, exact hosts before wildcards before host-less rules, the default backend last.
func TestPick(t *testing.T) {
	now := time.Now()
	def := backend("default")
	a := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(now)},
		Spec: networkingv1.IngressSpec{DefaultBackend: &def, Rules: []networkingv1.IngressRule{
			rule("shop.example.com", path(networkingv1.PathTypePrefix, "/", "web"), path(networkingv1.PathTypePrefix, "/api", "api")),
			rule("*.example.com", path(networkingv1.PathTypePrefix, "/", "wild")),
		}}}
	b := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "b", CreationTimestamp: metav1.NewTime(now.Add(time.Second))},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
			rule("shop.example.com", path(networkingv1.PathTypeExact, "/api", "api-exact"), path(networkingv1.PathTypePrefix, "/api/v2", "api2")),
			rule("", path(networkingv1.PathTypePrefix, "/any", "any")),
		}}}
	for _, c := range []struct{ host, path, want string }{
		{"shop.example.com", "/", "web"},
		{"shop.example.com", "/cart", "web"},
		{"shop.example.com", "/api", "api-exact"},
		{"shop.example.com", "/api/v1", "api"},
		{"shop.example.com", "/api/v2/x", "api2"},
		{"shop.example.com", "/apix", "web"},
		{"blog.example.com", "/", "wild"},
		{"a.b.example.com", "/any/x", "any"},
		{"other.org", "/any", "any"},
		{"other.org", "/nothing", "default"},
	} {
		rt := pick([]*networkingv1.Ingress{b, a}, c.host, c.path)
		if rt == nil || rt.backend.Service.Name != c.want {
			t.Errorf("%s%s: got %+v, want %s", c.host, c.path, rt, c.want)
		}
	}
	if rt := pick([]*networkingv1.Ingress{b}, "other.org", "/nothing"); rt != nil {
		t.Errorf("no rule and no default backend: got %+v, want nil (404)", rt)
	}
}
