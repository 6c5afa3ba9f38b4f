package main

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

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
// proxy's address, and a backend without ready pods answers 503 saying so.
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

	c.mustKubectl("scale", "deployment/api", "--replicas=0")
	c.eventually(60*time.Second, "503 once api has no ready pod", func() (bool, string) {
		code, body := curlHost(t, c.ingressAddr, "api.test", "/")
		return code == "503" && strings.Contains(body, "Service default/api has no ready endpoint for port 8080"), code + " " + body
	})
}
