package apiserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/certs"
)

// Secrets as a learner makes them with the real kubectl: every `create secret` flavour,
// stringData merged into data, kube-apiserver's refusals, the columns and describe.
func TestKubectlSecrets(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()
	dir := t.TempDir()

	k.ok(args("create secret generic db --from-literal=user=admin --from-literal=password=s3cr3t"), "secret/db created")
	k.ok(args("get secret db -o jsonpath={.data.password}"), "czNjcjN0") // base64 of s3cr3t
	k.ok(args("get secrets"), "NAME", "TYPE", "DATA", "AGE")
	if out := k.ok(args("get secret db")); !strings.Contains(strings.Join(strings.Fields(out), " "), "db Opaque 2") {
		t.Fatalf("get secret db: want row 'db Opaque 2 <age>':\n%s", out)
	}
	// describe shows sizes, never the values.
	if out := k.ok(args("describe secret db"), "Type:  Opaque", "password:  6 bytes", "user:      5 bytes"); strings.Contains(out, "s3cr3t") {
		t.Fatalf("describe printed the secret's value:\n%s", out)
	}

	ca, err := certs.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(certs.Request{CommonName: "web.example", Hosts: []string{"web.example"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k.ok([]string{"create", "secret", "tls", "web-tls", "--cert", write("tls.crt", crt), "--key", write("tls.key", key)}, "secret/web-tls created")
	k.ok(args("create secret docker-registry regcred --docker-server=127.0.0.1:5000 --docker-username=u --docker-password=p"),
		"secret/regcred created")
	out := strings.Join(strings.Fields(k.ok(args("get secrets"))), " ")
	for _, want := range []string{"web-tls kubernetes.io/tls 2", "regcred kubernetes.io/dockerconfigjson 1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get secrets lacks %q:\n%s", want, out)
		}
	}

	// stringData is written into data (and wins over it), never stored itself.
	k.ok([]string{"apply", "-f", write("basic.yml", []byte(`apiVersion: v1
kind: Secret
metadata: {name: login}
type: kubernetes.io/basic-auth
data: {username: b2xk}
stringData: {username: learner, password: pw}
`))}, "secret/login created")
	s, err := cs.CoreV1().Secrets("default").Get(ctx, "login", metav1.GetOptions{})
	if err != nil || string(s.Data["username"]) != "learner" || string(s.Data["password"]) != "pw" || s.StringData != nil {
		t.Fatalf("basic-auth secret: %v data=%q stringData=%q", err, s.Data, s.StringData)
	}
	k.ok([]string{"apply", "-f", write("basic2.yml", []byte(`apiVersion: v1
kind: Secret
metadata: {name: login}
type: kubernetes.io/basic-auth
stringData: {username: learner, password: changed}
`))}, "secret/login configured")
	k.ok(args("get secret login -o jsonpath={.data.password}"), "Y2hhbmdlZA==") // base64 of changed

	// Type-specific checks, in kube-apiserver's words; nothing is stored.
	k.fail([]string{"apply", "-f", write("badtls.yml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: badtls}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n"))},
		`The Secret "badtls" is invalid: data[tls.key]: Required value`)
	k.fail([]string{"apply", "-f", write("baddocker.yml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: baddocker}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{'}\n"))},
		`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`)
	k.fail([]string{"apply", "-f", write("badkey.yml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: badkey}\nstringData: {\"a/b\": x}\n"))},
		`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters`)
	k.fail([]string{"apply", "-f", write("basicempty.yml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: basicempty}\ntype: kubernetes.io/basic-auth\n"))},
		"data[username]: Required value", "data[password]: Required value")
	k.fail(args("get secret badtls"), `secrets "badtls" not found`)
	k.fail(args("patch secret db -p {\"type\":\"kubernetes.io/tls\"}"), `type: Invalid value: "kubernetes.io/tls": field is immutable`)

	// Immutable secrets keep their data.
	k.ok(args("patch secret db -p {\"immutable\":true}"), "secret/db patched")
	k.fail(args("patch secret db -p {\"stringData\":{\"user\":\"root\"}}"), "data: Forbidden: field is immutable when `immutable` is set")

	k.ok(args("explain secret.stringData"), "FIELD: stringData <map[string]string>")
	k.ok(args("get secrets --field-selector type=kubernetes.io/tls"), "web-tls")
	if out := k.ok(args("get secrets --field-selector type=kubernetes.io/tls")); strings.Contains(out, "regcred") {
		t.Fatalf("field selector type=kubernetes.io/tls listed regcred:\n%s", out)
	}
	k.ok(args("delete secret db web-tls"), `secret "db" deleted`, `secret "web-tls" deleted`)
	k.fail(args("get secret db"), `Error from server (NotFound): secrets "db" not found`)
	if _, err := cs.CoreV1().Secrets("default").Get(ctx, "regcred", metav1.GetOptions{}); err != nil {
		t.Fatalf("regcred went with the others: %v", err)
	}
}
