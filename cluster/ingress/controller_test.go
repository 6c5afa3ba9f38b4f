package ingress_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"webkube/cluster/apiserver/apiservertest"
	webkubecerts "webkube/cluster/certs"
	"webkube/cluster/ingress"
	"webkube/cluster/printers"
	"webkube/cluster/stepper"
	"webkube/internal/eventually"
)

// backendServer answers with its name and the Host it was asked for.
func backendServer(t *testing.T, name string) (ip string, port int32) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s path=%s", name, r.Host, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	host, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return host, int32(n)
}

// serviceWithEndpoints makes a selector-less Service on port 80 (named http) and, when
// port != 0, its Endpoints at ip:port (ready) — the shape the endpoints controller writes.
func serviceWithEndpoints(t *testing.T, cs kubernetes.Interface, name, ip string, port int32) {
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if port != 0 {
		ep.Subsets = []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: name + "-pod"}}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: port}},
		}}
	}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, proxy, host, path string) (int, string) {
	req, _ := http.NewRequest("GET", "http://"+proxy+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The controller against a real API server, with backends on loopback: it creates the
// default class, routes by host and path (404 for no rule, 503 without ready endpoints),
// follows a changed Ingress without a restart and holds its status write in step mode.
func TestIngressControllerRoutesAndWritesStatus(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ipA, portA := backendServer(t, "A")
	ipB, portB := backendServer(t, "B")
	serviceWithEndpoints(t, cs, "svc-a", ipA, portA)
	serviceWithEndpoints(t, cs, "svc-b", ipB, portB)
	serviceWithEndpoints(t, cs, "svc-none", "", 0)

	gate := stepper.New()
	gate.SetStepMode(true)
	c, err := ingress.New(ingress.Config{Client: cs, Addr: "127.0.0.1:0", Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ic, err := cs.NetworkingV1().IngressClasses().Get(ctx, "webkube", metav1.GetOptions{})
	if err != nil || ic.Annotations[printers.IsDefaultIngressClassAnnotation] != "true" || ic.Spec.Controller != ingress.ControllerName {
		t.Fatalf("default IngressClass: %+v %v", ic, err)
	}

	pt := func(p networkingv1.PathType) *networkingv1.PathType { return &p }
	be := func(svc string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
			{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: pt(networkingv1.PathTypePrefix), Backend: be("svc-a")},
				{Path: "/api", PathType: pt(networkingv1.PathTypePrefix), Backend: be("svc-b")},
			}}}},
			{Host: "down.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: pt(networkingv1.PathTypePrefix), Backend: be("svc-none")},
			}}}},
		}}}
	if _, err := cs.NetworkingV1().Ingresses("default").Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := c.Addr()
	eventually.That(t, 10*time.Second, "routes from the new Ingress", func() (bool, string) {
		code, body := get(t, proxy, "a.example.com", "/x")
		return code == 200 && strings.HasPrefix(body, "A host=a.example.com path=/x"), fmt.Sprint(code, " ", body)
	})
	for _, c := range []struct {
		host, path string
		code       int
		body       string
	}{
		{"a.example.com:8081", "/api/v1", 200, "B host=a.example.com:8081 path=/api/v1"},
		{"a.example.com", "/apix", 200, "A "},
		{"other.example.com", "/", 404, `no Ingress rule matches host "other.example.com" and path "/"`},
		{"down.example.com", "/", 503, "Service default/svc-none has no ready endpoint for port 80"},
	} {
		if code, body := get(t, proxy, c.host, c.path); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s%s: %d %q, want %d %q", c.host, c.path, code, body, c.code, c.body)
		}
	}

	// The status write waits at the gate, saying what and why, until Next.
	eventually.True(t, 10*time.Second, "write-address held", func() bool {
		w := gate.Waiting()
		return len(w) == 1 && w[0].Action == "write-address" && w[0].Says.Key == "ing.held_address" && w[0].Name == "shop"
	})
	if got, _ := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{}); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("status written before Next: %+v", got.Status)
	}
	gate.Next()
	_, port, _ := net.SplitHostPort(proxy)
	eventually.That(t, 10*time.Second, "status has the proxy's address", func() (bool, string) {
		got, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		lb := got.Status.LoadBalancer.Ingress
		return len(lb) == 1 && lb[0].IP == "127.0.0.1" && len(lb[0].Ports) == 1 && fmt.Sprint(lb[0].Ports[0].Port) == port, fmt.Sprintf("%+v", lb)
	})
	gate.SetStepMode(false)

	// A changed rule is followed at the next request.
	got, _ := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
	got.Spec.Rules[0].HTTP.Paths[1].Backend = be("svc-a")
	if _, err := cs.NetworkingV1().Ingresses("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "/api goes to A after the update", func() (bool, string) {
		code, body := get(t, proxy, "a.example.com", "/api")
		return code == 200 && strings.HasPrefix(body, "A "), body
	})
}

// httpsGet asks the TLS proxy at addr for https://host/path with host as SNI, trusting
// roots (any certificate when nil), and returns the status, body and served certificate.
func httpsGet(t *testing.T, addr, host, path string, roots *x509.CertPool) (int, string, *x509.Certificate, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, InsecureSkipVerify: roots == nil},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + host + path)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0], nil
}

func tlsSecret(name string, ca *webkubecerts.CA, hosts ...string) *corev1.Secret {
	crt, key, err := ca.Issue(webkubecerts.Request{CommonName: hosts[0], Hosts: hosts}, time.Now())
	if err != nil {
		panic(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
}

// The TLS proxy against a real API server: each host gets its Ingress's Secret's
// certificate by SNI (verified against the CA that issued it) and is routed as over HTTP;
// a missing Secret gets the fake default certificate and a Warning Event naming it, and
// is served once the Secret is created; a renewed Secret is served at the next handshake;
// the status lists the TLS port of an Ingress with spec.tls.
func TestIngressTLSServesSecretsBySNI(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ipA, portA := backendServer(t, "A")
	serviceWithEndpoints(t, cs, "svc-a", ipA, portA)
	ca, err := webkubecerts.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, tlsSecret("shop-tls", ca, "shop.example.com"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(20)
	c, err := ingress.New(ingress.Config{Client: cs, Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", Gate: stepper.New(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pt := networkingv1.PathTypePrefix
	rule := func(host string) networkingv1.IngressRule {
		return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "svc-a", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"},
		Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"},
				{Hosts: []string{"late.example.com"}, SecretName: "late-tls"}},
			Rules: []networkingv1.IngressRule{rule("shop.example.com"), rule("late.example.com")}}}
	if _, err := cs.NetworkingV1().Ingresses("default").Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addr := c.TLSAddr()
	eventually.That(t, 10*time.Second, "shop.example.com served with its Secret's certificate", func() (bool, string) {
		code, body, cert, err := httpsGet(t, addr, "shop.example.com", "/x", ca.Pool())
		if err != nil {
			return false, err.Error()
		}
		return code == 200 && strings.HasPrefix(body, "A host=shop.example.com path=/x") && cert.Subject.CommonName == "shop.example.com", body
	})
	code, body, cert, err := httpsGet(t, addr, "late.example.com", "/y", nil)
	if err != nil || code != 200 || !strings.HasPrefix(body, "A host=late.example.com path=/y") || cert.Subject.CommonName != ingress.FakeCertificateCN {
		t.Fatalf("late.example.com without its Secret: %d %q %v %v, want 200 with the fake certificate", code, body, cert.Subject, err)
	}
	if _, _, _, err := httpsGet(t, addr, "late.example.com", "/", ca.Pool()); err == nil {
		t.Fatal("the fake certificate verified against the test's CA")
	}
	want := "Warning InvalidTLSSecret TLS Secret default/late-tls does not exist; serving the default (fake) certificate instead"
	eventually.That(t, 10*time.Second, "a Warning Event names the missing Secret", func() (bool, string) {
		select {
		case e := <-rec.Events:
			return e == want, e
		default:
			return false, "no event"
		}
	})

	// Without a certificate of its own, a TLS host still answers plain HTTP, as on
	// ingress-nginx (only force-ssl-redirect redirects it).
	if code, loc := redirectOf(t, c.Addr(), "late.example.com", "/"); code != 200 {
		t.Fatalf("plain HTTP for a TLS host without its Secret: %d %q, want 200", code, loc)
	}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, tlsSecret("late-tls", ca, "late.example.com"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "late.example.com served once its Secret exists", func() (bool, string) {
		_, _, cert, err := httpsGet(t, addr, "late.example.com", "/", ca.Pool())
		if err != nil {
			return false, err.Error()
		}
		return cert.Subject.CommonName == "late.example.com", cert.Subject.String()
	})

	_, _, before, _ := httpsGet(t, addr, "shop.example.com", "/", ca.Pool())
	renewed := tlsSecret("shop-tls", ca, "shop.example.com")
	if _, err := cs.CoreV1().Secrets("default").Update(ctx, renewed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the renewed certificate served", func() (bool, string) {
		_, _, cert, err := httpsGet(t, addr, "shop.example.com", "/", ca.Pool())
		if err != nil {
			return false, err.Error()
		}
		return cert.SerialNumber.Cmp(before.SerialNumber) != 0, cert.SerialNumber.String()
	})

	_, tlsPort, _ := net.SplitHostPort(addr)
	eventually.That(t, 10*time.Second, "status lists the HTTP and TLS ports", func() (bool, string) {
		got, _ := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
		lb := got.Status.LoadBalancer.Ingress
		return len(lb) == 1 && len(lb[0].Ports) == 2 && fmt.Sprint(lb[0].Ports[1].Port) == tlsPort, fmt.Sprintf("%+v", lb)
	})

	// Plain HTTP for a TLS host is redirected to HTTPS (308, ingress-nginx's ssl-redirect),
	// unless the Ingress turns that off.
	code, loc := redirectOf(t, c.Addr(), "shop.example.com", "/x?q=1")
	if want := "https://shop.example.com:" + tlsPort + "/x?q=1"; code != http.StatusPermanentRedirect || loc != want {
		t.Fatalf("plain HTTP for a TLS host: %d to %q, want 308 to %q", code, loc, want)
	}
	got, _ := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
	got.Annotations = map[string]string{"nginx.ingress.kubernetes.io/ssl-redirect": "false"}
	if _, err := cs.NetworkingV1().Ingresses("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "plain HTTP served when ssl-redirect is false", func() (bool, string) {
		code, loc := redirectOf(t, c.Addr(), "shop.example.com", "/x")
		return code == 200, fmt.Sprint(code, " ", loc)
	})
}

// redirectOf sends a plain-HTTP GET without following a redirect: the status and Location.
func redirectOf(t *testing.T, proxy, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+proxy+path, nil)
	req.Host = host
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}
