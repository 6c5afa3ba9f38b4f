package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	webkubecerts "webkube/cluster/certs"
	"webkube/web/examples"
)

// curlHost asks the ingress proxy for path as host with the real curl and returns the
// status code and the echo server's Hostname (or the body when there is none).
func curlHost(t *testing.T, proxy, host, path string) (string, string) {
	out, err := exec.Command("curl", "-s", "-m", "5", "-H", "Host: "+host, "-w", "\n%{http_code}", "http://"+proxy+path).CombinedOutput()
	if err != nil {
		return "curl failed: " + err.Error(), string(out)
	}
	body, code := string(out), ""
	if i := strings.LastIndex(body, "\n"); i >= 0 {
		body, code = body[:i], body[i+1:]
	}
	if m := hostnameRE.FindStringSubmatch(body); m != nil {
		return code, m[1]
	}
	return code, body
}

// An Ingress applied with kubectl routes two hosts and two paths to two Services' pods
// through the built-in ingress controller's proxy (reached with curl), its status gets the
// proxy's address, its spec.tls serves HTTPS (checkIngressTLS), and a backend without
// ready pods answers 503 saying so.
func TestIngressRoutesToPods(t *testing.T) {
	c := startCluster(t, "10.241.0.0/16", "wkin")
	// The editor's example: web and api Deployments and Services, and the shop Ingress.
	yml := examples.Get("shop-ingress")
	apps, ing, _ := strings.Cut(yml, "apiVersion: networking.k8s.io/v1")
	c.apply(strings.TrimSuffix(apps, "---\n"))
	c.eventually(180*time.Second, "web and api ready", func() (bool, string) {
		out := c.jsonpath("deployments", "{range .items[*]}{.metadata.name}={.status.readyReplicas} {end}")
		return strings.Contains(out, "web=1") && strings.Contains(out, "api=1"), out
	})
	if out := c.mustKubectl("get", "ingressclass"); !strings.Contains(out, "webkube") || !strings.Contains(out, "webkube.io/ingress-controller") {
		t.Fatalf("default IngressClass missing:\n%s", out)
	}
	c.apply("apiVersion: networking.k8s.io/v1" + ing)

	for _, r := range []struct{ host, path, pod string }{
		{"shop.test", "/", "web-"},
		{"shop.test", "/cart/1", "web-"},
		{"shop.test", "/api/orders", "api-"},
		{"shop.test", "/apis", "web-"},
		{"api.test", "/", "api-"},
	} {
		c.eventually(30*time.Second, "http://"+r.host+r.path+" served by "+r.pod, func() (bool, string) {
			code, who := curlHost(t, c.ingressAddr, r.host, r.path)
			return code == "200" && strings.HasPrefix(who, r.pod), code + " " + who
		})
	}
	if code, body := curlHost(t, c.ingressAddr, "nobody.test", "/"); code != "404" || !strings.Contains(body, "no Ingress rule matches") {
		t.Errorf("unknown host: %s %q, want 404", code, body)
	}

	host, port, _ := net.SplitHostPort(c.ingressAddr)
	c.eventually(30*time.Second, "status has the proxy's address", func() (bool, string) {
		out := c.jsonpath("ingress/shop", "{.status.loadBalancer.ingress[0].ip}:{.status.loadBalancer.ingress[0].ports[0].port}")
		return out == host+":"+port, out
	})
	if out := c.mustKubectl("get", "ingress", "shop"); !strings.Contains(out, "webkube") || !strings.Contains(out, host) ||
		!strings.Contains(out, "shop.test,api.test") {
		t.Errorf("kubectl get ingress:\n%s", out)
	}

	checkIngressTLS(t, c, ing)

	c.mustKubectl("scale", "deployment/api", "--replicas=0")
	c.eventually(60*time.Second, "503 once api has no ready pod", func() (bool, string) {
		code, body := curlHost(t, c.ingressAddr, "api.test", "/")
		return code == "503" && strings.Contains(body, "Service default/api has no ready endpoint for port 8080"), code + " " + body
	})
}

// checkIngressTLS gives the shop Ingress (ing: its manifest after apiVersion) spec.tls:
// shop.test with a Secret made by `kubectl create secret tls` from a certificate the test
// issued, api.test with a Secret that does not exist. An HTTPS request on loopback with
// SNI shop.test gets that certificate (verified against the test's CA) and is routed to
// the api pod as over HTTP; api.test gets the fake default certificate, still routed, and
// the Ingress a Warning Event naming the missing Secret; the status lists the TLS port.
func checkIngressTLS(t *testing.T, c *cluster, ing string) {
	t.Helper()
	ca, err := webkubecerts.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(webkubecerts.Request{CommonName: "shop.test", Hosts: []string{"shop.test"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600)
	c.mustKubectl("create", "secret", "tls", "shop-tls", "--cert="+filepath.Join(dir, "tls.crt"), "--key="+filepath.Join(dir, "tls.key"))
	tlsSpec := "spec:\n  tls:\n  - hosts: [shop.test]\n    secretName: shop-tls\n  - hosts: [api.test]\n    secretName: api-tls\n"
	c.apply("apiVersion: networking.k8s.io/v1" + strings.Replace(ing, "spec:\n", tlsSpec, 1))

	c.eventually(30*time.Second, "https://shop.test/api/orders with shop-tls's certificate, served by api", func() (bool, string) {
		cert, who, err := httpsVia(c.ingressTLS, "shop.test", "/api/orders", ca.Pool())
		if err != nil {
			return false, err.Error()
		}
		return cert.Subject.CommonName == "shop.test" && strings.HasPrefix(who, "api-"), who
	})
	// Plain HTTP for shop.test now redirects to HTTPS (308, ingress-nginx's ssl-redirect);
	// api.test, left with the default certificate, still answers plain HTTP (below).
	_, tlsPort, _ := net.SplitHostPort(c.ingressTLS)
	if out, err := exec.Command("curl", "-s", "-m", "5", "-H", "Host: shop.test", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
		"http://"+c.ingressAddr+"/api/orders?x=1").CombinedOutput(); err != nil || string(out) != "308 https://shop.test:"+tlsPort+"/api/orders?x=1" {
		t.Errorf("plain HTTP for shop.test: %q %v, want a 308 to https://shop.test:%s/api/orders?x=1", out, err, tlsPort)
	}
	cert, who, err := httpsVia(c.ingressTLS, "api.test", "/", nil)
	if err != nil || cert.Subject.CommonName != "Kubernetes Ingress Controller Fake Certificate" || !strings.HasPrefix(who, "api-") {
		t.Errorf("api.test without its Secret: %v %q %v, want the fake certificate, served by api", cert, who, err)
	}
	c.eventually(30*time.Second, "a Warning Event names the missing Secret", func() (bool, string) {
		out, _ := c.kubectl("get", "events", "--field-selector", "involvedObject.name=shop,reason=InvalidTLSSecret", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, "TLS Secret default/api-tls does not exist; serving the default (fake) certificate instead"), out
	})
	c.eventually(30*time.Second, "status lists the TLS port", func() (bool, string) {
		out := c.jsonpath("ingress/shop", "{.status.loadBalancer.ingress[0].ports[*].port}")
		return strings.HasSuffix(out, " "+tlsPort), out
	})
}

// httpsVia asks the TLS proxy at addr for https://host/path (SNI host), trusting roots
// (anything when nil), and returns the served certificate and the echo server's Hostname.
func httpsVia(addr, host, path string, roots *x509.CertPool) (*x509.Certificate, string, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + host + path)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := hostnameRE.FindStringSubmatch(string(body)); m != nil {
		return resp.TLS.PeerCertificates[0], m[1], nil
	}
	return resp.TLS.PeerCertificates[0], resp.Status + " " + string(body), nil
}
