package apiserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
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

// RBAC with the real kubectl, as a learner follows the docs: a service account bound to a
// Role that allows get and list on pods lists them and is refused everything else with
// kube-apiserver's exact message; auth can-i --list shows its rules; a Role granting more
// than its creator holds is refused.
func TestKubectlRBAC(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)

	k.ok(args("get clusterroles"), "cluster-admin", "system:discovery", "view", "edit", "admin")
	k.ok(args("get clusterrolebinding cluster-admin -o wide"), "ClusterRole/cluster-admin", "system:masters")
	k.ok(args("create serviceaccount reader"))
	k.ok(args("create role pod-reader --verb=get,list --resource=pods"), "role.rbac.authorization.k8s.io/pod-reader created")
	k.ok(args("create rolebinding read-pods --role=pod-reader --serviceaccount=default:reader"),
		"rolebinding.rbac.authorization.k8s.io/read-pods created")
	k.ok(args("get rolebinding read-pods -o wide"), "Role/pod-reader", "default/reader")
	k.ok(args("run victim --image=busybox"))
	tok := []string{"--token", strings.TrimSpace(k.ok(args("create token reader")))}
	with := func(rest string) []string { return append(append([]string{}, tok...), args(rest)...) }

	eventually.That(t, 10*time.Second, "the reader lists pods", func() (bool, string) {
		out, ok := k.run(with("get pods")...)
		return ok && strings.Contains(out, "victim"), out
	})
	k.ok(with("get pod victim -o name"), "pod/victim")
	k.fail(with("delete pod victim"), `Error from server (Forbidden): pods "victim" is forbidden: User "system:serviceaccount:default:reader" cannot delete resource "pods" in API group "" in the namespace "default"`)
	k.fail(with("get pods -n kube-system"), `pods is forbidden: User "system:serviceaccount:default:reader" cannot list resource "pods" in API group "" in the namespace "kube-system"`)
	k.fail(with("get nodes"), `nodes is forbidden: User "system:serviceaccount:default:reader" cannot list resource "nodes" in API group "" at the cluster scope`)
	k.fail(with("get deployments"), `deployments.apps is forbidden: User "system:serviceaccount:default:reader" cannot list resource "deployments" in API group "apps" in the namespace "default"`)
	k.fail(with("logs victim"), `pods "victim" is forbidden: User "system:serviceaccount:default:reader" cannot get resource "pods/log" in API group "" in the namespace "default"`)
	k.ok(with("auth can-i list pods"), "yes")
	if out, ok := k.run(with("auth can-i delete pods")...); ok || strings.TrimSpace(out) != "no" {
		t.Fatalf("auth can-i delete pods: %v %q", ok, out)
	}
	k.ok(with("auth whoami"), "system:serviceaccount:default:reader")
	// Impersonation (kubectl --as): the admin may, the service account may not.
	k.ok(args("auth can-i list pods --as=system:serviceaccount:default:reader"), "yes")
	k.fail(args("auth can-i delete pods --as=system:serviceaccount:default:reader"), "no")
	k.ok(args("auth whoami --as=jane --as-group=devs"), "jane", "[devs system:authenticated]")
	k.fail(with("get pods --as=kubernetes-admin"),
		`users "kubernetes-admin" is forbidden: User "system:serviceaccount:default:reader" cannot impersonate resource "users" in API group "" at the cluster scope`)
	list := k.ok(with("auth can-i --list"))
	for _, want := range []string{
		"pods                                            []                  []               [get list]",
		"selfsubjectaccessreviews.authorization.k8s.io   []                  []               [create]",
		"[/api/*]                            []               [get]",
	} {
		if !strings.Contains(spaced(list), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("auth can-i --list lacks %q:\n%s", want, list)
		}
	}

	// Creating roles and bindings: only with rules the creator holds.
	k.ok(args("create role role-maker --verb=create,get --resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io"))
	k.ok(args("create rolebinding make-roles --role=role-maker --serviceaccount=default:reader"))
	eventually.That(t, 10*time.Second, "the reader may create roles", func() (bool, string) {
		out, _ := k.run(with("auth can-i create roles")...)
		return strings.TrimSpace(out) == "yes", out
	})
	k.ok(with("create role list-pods --verb=list --resource=pods"), "role.rbac.authorization.k8s.io/list-pods created")
	k.fail(with("create role delete-pods --verb=list,delete,get --resource=pods"),
		`roles.rbac.authorization.k8s.io "delete-pods" is forbidden: user "system:serviceaccount:default:reader" (groups=["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:`,
		`{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`)
	k.fail(with("create rolebinding admin-me --clusterrole=cluster-admin --serviceaccount=default:reader"),
		`rolebindings.rbac.authorization.k8s.io "admin-me" is forbidden: user "system:serviceaccount:default:reader"`, "is attempting to grant RBAC permissions not currently held")
	k.ok(with("create rolebinding list-me --role=list-pods --serviceaccount=default:reader"), "rolebinding.rbac.authorization.k8s.io/list-me created")
	// A binding to a role that does not exist is an RBAC error in the 403.
	k.ok(args("create rolebinding ghost --role=ghost --serviceaccount=default:reader"))
	eventually.That(t, 10*time.Second, "the missing role is named", func() (bool, string) {
		out, _ := k.run(with("get configmaps")...)
		return strings.Contains(out, `in the namespace "default": RBAC: role.rbac.authorization.k8s.io "ghost" not found`), out
	})
}

// spaced collapses runs of spaces, so table rows compare without their padding.
func spaced(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		b.WriteString(strings.Join(strings.Fields(line), " ") + "\n")
	}
	return b.String()
}

// A websocket exec, attach or port-forward is a GET (verb get on pods/exec), but as
// kube-apiserver 1.35+ it also needs create, the verb SPDY's POST is checked for: a role
// with only get on pods/exec cannot run a command.
func TestConnectNeedsCreate(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	k.ok(args("create serviceaccount shell"))
	k.ok(args("create role get-exec --verb=get --resource=pods/exec,pods/attach,pods/portforward"))
	k.ok(args("create rolebinding get-exec --role=get-exec --serviceaccount=default:shell"))
	bearer := "Bearer " + strings.TrimSpace(k.ok(args("create token shell")))
	paths := map[string]string{"exec": "/exec?command=true&stdout=true", "attach": "/attach?stdout=true", "portforward": "/portforward?ports=80"}
	for sub, path := range paths {
		code, out := call(t, srv, "GET", "/api/v1/namespaces/default/pods/victim"+path, "", nil, "Authorization", bearer)
		want := `User \"system:serviceaccount:default:shell\" cannot create resource \"pods/` + sub + `\" in API group \"\" in the namespace \"default\"`
		if code != 403 || !strings.Contains(string(out), want) {
			t.Fatalf("websocket %s with get only: %d %s, want 403 %s", sub, code, out, want)
		}
		code, out = call(t, srv, "POST", "/api/v1/namespaces/default/pods/victim"+path, "", nil, "Authorization", bearer)
		if want := `cannot create resource \"pods/` + sub + `\"`; code != 403 || !strings.Contains(string(out), want) {
			t.Fatalf("SPDY %s with get only: %d %s, want 403 %s", sub, code, out, want)
		}
	}
	// With create too, both pass authorization (the pod does not exist: 404).
	k.ok(args("create role create-exec --verb=create --resource=pods/exec,pods/attach,pods/portforward"))
	k.ok(args("create rolebinding create-exec --role=create-exec --serviceaccount=default:shell"))
	for sub, path := range paths {
		for _, method := range []string{"GET", "POST"} {
			eventually.That(t, 10*time.Second, method+" "+sub+" passes authorization", func() (bool, string) {
				code, out := call(t, srv, method, "/api/v1/namespaces/default/pods/victim"+path, "", nil, "Authorization", bearer)
				return code == 404, fmt.Sprintf("%d %s", code, out)
			})
		}
	}
	// A role with create alone: the websocket GET is refused as a get (kubectl then falls
	// back to SPDY, which needs create only).
	k.ok(args("delete rolebinding get-exec"))
	eventually.That(t, 10*time.Second, "the websocket exec refused as a get", func() (bool, string) {
		code, out := call(t, srv, "GET", "/api/v1/namespaces/default/pods/victim"+paths["exec"], "", nil, "Authorization", bearer)
		return code == 403 && strings.Contains(string(out), `cannot get resource \"pods/exec\"`), fmt.Sprintf("%d %s", code, out)
	})
}
