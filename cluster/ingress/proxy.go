package ingress

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"webkube/cluster/serviceproxy"
)

// ServeHTTP routes one request: 404 when no rule of any Ingress of ours matches, 503 when
// the backend Service has no ready endpoint, else it is proxied to one (round robin).
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rt := pick(c.mine(), host, r.URL.Path)
	if rt == nil {
		http.Error(w, fmt.Sprintf("webkube ingress: no Ingress rule matches host %q and path %q (404)", host, r.URL.Path), http.StatusNotFound)
		return
	}
	if to, ok := c.httpsRedirect(r, rt, host); ok {
		http.Redirect(w, r, to, http.StatusPermanentRedirect)
		return
	}
	ep, err := c.endpointFor(rt)
	if err != nil {
		http.Error(w, "webkube ingress: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	c.cfg.Logger.Debug("routing", "host", host, "path", r.URL.Path, "ingress", rt.ingress.Namespace+"/"+rt.ingress.Name, "to", ep.Addr, "pod", ep.Pod)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", ep.Addr
			pr.Out.Host = pr.In.Host // the backend sees the host the client asked for
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, fmt.Sprintf("webkube ingress: pod %s at %s did not answer: %v", ep.Pod, ep.Addr, err), http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

// The annotations of ingress-nginx's redirect to HTTPS: ssl-redirect "false" keeps an
// Ingress's TLS hosts answering plain HTTP; force-ssl-redirect "true" redirects even a
// host without a certificate of its own.
const (
	sslRedirectAnnotation      = "nginx.ingress.kubernetes.io/ssl-redirect"
	forceSSLRedirectAnnotation = "nginx.ingress.kubernetes.io/force-ssl-redirect"
)

// httpsRedirect is where ingress-nginx's ssl-redirect, on by default, sends a plain-HTTP
// request whose Ingress serves its host over TLS with a certificate of its own (a host
// left with the default certificate is not redirected): the same path and query on the
// HTTPS proxy, with a 308 so the method and body are kept. ingress-nginx listens on 443;
// webkube names its HTTPS port when it is another.
func (c *Controller) httpsRedirect(r *http.Request, rt *route, host string) (string, bool) {
	tlsAddr, _ := c.tlsAddr.Load().(string)
	if r.TLS != nil || tlsAddr == "" {
		return "", false
	}
	if rt.ingress.Annotations[forceSSLRedirectAnnotation] != "true" {
		if rt.ingress.Annotations[sslRedirectAnnotation] == "false" {
			return "", false
		}
		if _, ok := pickTLS([]*networkingv1.Ingress{rt.ingress}, host); !ok {
			return "", false
		}
		if cert, _ := c.certificateFor(host); cert == c.defaultCert {
			return "", false
		}
	}
	u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if _, port, err := net.SplitHostPort(tlsAddr); err == nil && port != "443" {
		u.Host = net.JoinHostPort(host, port)
	}
	return u.String(), true
}

// endpointFor picks a ready endpoint of the route's backend Service port, or says why
// there is none.
func (c *Controller) endpointFor(rt *route) (serviceproxy.Endpoint, error) {
	b, ns := rt.backend, rt.ingress.Namespace
	if b.Service == nil {
		return serviceproxy.Endpoint{}, fmt.Errorf("Ingress %s/%s: only Service backends are served", ns, rt.ingress.Name)
	}
	name := b.Service.Name
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return serviceproxy.Endpoint{}, fmt.Errorf("Service %s/%s of Ingress %s does not exist", ns, name, rt.ingress.Name)
	}
	if err != nil {
		return serviceproxy.Endpoint{}, err
	}
	sp, ok := servicePort(svc, b.Service.Port)
	if !ok {
		return serviceproxy.Endpoint{}, fmt.Errorf("Service %s/%s has no port %s", ns, name, portString(b.Service.Port))
	}
	eps, err := c.endpoints.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return serviceproxy.Endpoint{}, err
	}
	ready := serviceproxy.ReadyEndpoints(eps, sp)
	if len(ready) == 0 {
		return serviceproxy.Endpoint{}, fmt.Errorf("Service %s/%s has no ready endpoint for port %s (no ready pod matches its selector)",
			ns, name, portString(b.Service.Port))
	}
	return ready[int(c.next.Add(1)-1)%len(ready)], nil
}

func servicePort(svc *corev1.Service, p networkingv1.ServiceBackendPort) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Name == "" && sp.Port == p.Number) {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprint(p.Number)
}
