package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// kubectl auth whoami and auth can-i: the admin token is kubeadm's admin.conf user in
// system:masters; a service account token is system:serviceaccount:<ns>:<name> in its
// groups, with the token's id and bound pod as extra.
func TestKubectlAuthWhoAmI(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)

	k.ok(args("auth whoami"), "kubernetes-admin", "system:masters", "system:authenticated")
	out := k.ok(args("auth whoami -o json"))
	var ssr struct {
		Kind, APIVersion string
		Status           struct{ UserInfo struct{ Username string } }
	}
	if err := json.Unmarshal([]byte(out), &ssr); err != nil || ssr.Kind != "SelfSubjectReview" ||
		ssr.APIVersion != "authentication.k8s.io/v1" || ssr.Status.UserInfo.Username != "kubernetes-admin" {
		t.Fatalf("whoami -o json: %v\n%s", err, out)
	}
	k.ok(args("auth can-i create pods"), "yes")
	k.ok(args("auth can-i '*' '*' --all-namespaces"), "yes")

	k.ok(args("create serviceaccount robot"))
	k.ok(args("run bot --image=busybox --overrides={\"spec\":{\"serviceAccountName\":\"robot\"}}"))
	token := strings.TrimSpace(k.ok(args("create token robot --bound-object-kind Pod --bound-object-name bot")))
	uid := strings.TrimSpace(k.ok(args("get sa robot -o jsonpath={.metadata.uid}")))
	out = k.ok([]string{"--token", token, "auth", "whoami"},
		"system:serviceaccount:default:robot", uid,
		"[system:serviceaccounts system:serviceaccounts:default system:authenticated]",
		"authentication.kubernetes.io/pod-name", "[bot]", "authentication.kubernetes.io/credential-id", "JTI=")
	t.Log(out)
}

// A SelfSubjectAccessReview as the dashboard and k9s send it, and a SubjectAccessReview
// about someone else, over plain HTTP.
func TestSelfSubjectAccessReview(t *testing.T) {
	srv := apiservertest.Start(t)
	body := `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
	  "spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}`
	code, out := call(t, srv, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", []byte(body))
	var ssar authorizationv1.SelfSubjectAccessReview
	if err := json.Unmarshal(out, &ssar); code != 201 || err != nil || !ssar.Status.Allowed || ssar.Kind != "SelfSubjectAccessReview" {
		t.Fatalf("SSAR: %d %v %s", code, err, out)
	}
	code, out = call(t, srv, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json",
		[]byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`))
	if code != 422 || !strings.Contains(string(out), "exactly one of nonResourceAttributes or resourceAttributes must be specified") {
		t.Fatalf("empty SSAR: %d %s", code, out)
	}
	code, out = call(t, srv, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", nil)
	if code != 405 {
		t.Fatalf("GET selfsubjectaccessreviews: %d %s", code, out)
	}
	code, out = call(t, srv, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json",
		[]byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"nodes"}}}`))
	if code != 422 || !strings.Contains(string(out), "at least one of user or group must be specified") {
		t.Fatalf("SAR without user: %d %s", code, out)
	}
}
