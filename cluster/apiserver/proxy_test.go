package apiserver_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"nhooyr.io/websocket"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/certs"
)

// fakeKubelet serves the two kubelet paths the API server proxies to, on loopback, with
// TLS as a kubelet does: a serving certificate from ca, client certificates from the
// server's CA required, and only the API server's identity let through.
func fakeKubelet(t *testing.T, srv *apiservertest.Server, ca *certs.CA) (host string, port int32) {
	serving, err := ca.IssueTLS(certs.Request{CommonName: "system:node:fake", Hosts: []string{"127.0.0.1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "token leaked to the kubelet", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "log of %s/%s/%s follow=%s\n", r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), r.URL.Query().Get("follow"))
	})
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"v5.channel.k8s.io"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		cmd := strings.Join(r.URL.Query()["command"], " ")
		_ = c.Write(ctx, websocket.MessageBinary, append([]byte{1}, []byte("ran "+cmd+" in "+r.PathValue("container")+"\n")...))
		st := `{"metadata":{},"status":"Success"}`
		if cmd == "false" {
			st = `{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}`
		}
		_ = c.Write(ctx, websocket.MessageBinary, append([]byte{3}, []byte(st)...))
		c.Close(websocket.StatusNormalClosure, "")
	})
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != certs.KubeletClientUser {
			http.Error(w, "client "+cn+" is not the API server", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientCAs: srv.CA.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	h, p, _ := net.SplitHostPort(ts.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

func TestLogsAndExecProxy(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	k := newKubectl(t, srv)
	host, port := fakeKubelet(t, srv, srv.CA)
	// A kubelet whose certificate webkube's CA did not issue is not talked to.
	other, err := certs.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, impostorPort := fakeKubelet(t, srv, other)

	mkNode := func(name, ip string, port int32) {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}}}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkNode("node-1", host, port)
	mkNode("bare", "", 0)
	mkNode("impostor", host, impostorPort)
	mustCreatePod(t, cs, "default", "echo")
	if err := bind(t, cs, "default", "echo", "node-1"); err != nil {
		t.Fatal(err)
	}

	k.ok(args("logs echo"), "log of default/echo/app")
	k.ok(args("logs -f echo"), "follow=true")
	k.ok(args("exec echo -- ls /"), "ran ls / in app")
	out, ok := k.run("exec", "echo", "--", "false")
	if ok || !strings.Contains(out, "exit code 7") {
		t.Fatalf("exec with exit 7: ok=%v %s", ok, out)
	}

	two := pod("counter", nil)
	two.Spec.Containers = append(two.Spec.Containers, corev1.Container{Name: "db", Image: "redis"})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, two, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bind(t, cs, "default", "counter", "node-1"); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, srv, "GET", "/api/v1/namespaces/default/pods/counter/log", "", nil)
	if st := status(t, body); code != 400 || st.Message != "a container name must be specified for pod counter, choose one of: [app db]" {
		t.Fatalf("%d %q", code, st.Message)
	}
	k.ok(args("logs counter -c db"), "log of default/counter/db")

	mustCreatePod(t, cs, "default", "pending")
	k.fail(args("logs pending"), "pod pending does not have a host assigned")
	mustCreatePod(t, cs, "default", "onbare")
	if err := bind(t, cs, "default", "onbare", "bare"); err != nil {
		t.Fatal(err)
	}
	k.fail(args("logs onbare"), `node "bare" has no kubelet endpoint`)
	mustCreatePod(t, cs, "default", "trapped")
	if err := bind(t, cs, "default", "trapped", "impostor"); err != nil {
		t.Fatal(err)
	}
	k.fail(args("logs trapped"), `the kubelet on node "impostor" at `+net.JoinHostPort(host, strconv.Itoa(int(impostorPort)))+" is not reachable")
	k.fail(args("exec trapped -- ls"), `is not reachable`)
}
