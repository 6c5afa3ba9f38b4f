package apiserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/internal/eventually"
)

// ServiceAccounts and their tokens with the real kubectl: `create token` hands out a
// signed token that authenticates until its service account (or bound pod) goes.
func TestKubectlServiceAccountTokens(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)

	k.ok(args("create serviceaccount robot"), "serviceaccount/robot created")
	if out := strings.Join(strings.Fields(k.ok(args("get sa robot"))), " "); !strings.HasPrefix(out, "NAME SECRETS AGE robot 0 ") {
		t.Fatalf("get sa robot: want NAME SECRETS AGE / robot 0 <age>, got %q", out)
	}
	k.ok(args("describe serviceaccount robot"), "Name:", "robot", "Namespace:", "default", "Tokens:")
	k.ok(args("explain serviceaccount.automountServiceAccountToken"), "FIELD: automountServiceAccountToken <boolean>")

	token := strings.TrimSpace(k.ok(args("create token robot")))
	claims := jwtClaims(t, token)
	if claims["sub"] != "system:serviceaccount:default:robot" || claims["iss"] != "https://kubernetes.default.svc.cluster.local" {
		t.Fatalf("token claims: %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
		t.Fatalf("default lifetime is %vs, want 3600", exp-iat)
	}
	withToken := func(tok string, rest ...string) []string {
		return append([]string{"--token", tok}, rest...)
	}
	// RBAC: the service account may read pods and service accounts, as a Role says.
	k.ok(args("create role robot --verb=get,list --resource=pods,serviceaccounts"))
	k.ok(args("create rolebinding robot --role=robot --serviceaccount=default:robot"))
	eventually.That(t, 10*time.Second, "the robot may list pods", func() (bool, string) {
		out, _ := k.run(withToken(token, "get", "pods")...)
		return strings.Contains(out, "No resources found"), out
	})
	k.fail(withToken(token[:len(token)-4]+"AAAA", "get", "pods"), "Unauthorized")
	k.fail(withToken("not-a-token", "get", "pods"), "Unauthorized")
	k.fail(args("create token robot --duration=1m"),
		`TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`)
	k.fail(args("create token ghost"), `serviceaccounts "ghost" not found`)

	// Every pod runs as a service account: default when it names none.
	k.ok(args("run plain --image=busybox"), "pod/plain created")
	k.ok(args("get pod plain -o jsonpath={.spec.serviceAccountName}/{.spec.serviceAccount}"), "default/default")

	// A token bound to a pod ends with the pod.
	k.ok(args("run bot --image=busybox --overrides={\"spec\":{\"serviceAccountName\":\"robot\"}}"), "pod/bot created")
	bound := strings.TrimSpace(k.ok(args("create token robot --bound-object-kind Pod --bound-object-name bot")))
	if pod, _ := jwtClaims(t, bound)["kubernetes.io"].(map[string]any)["pod"].(map[string]any); pod["name"] != "bot" {
		t.Fatalf("bound token names pod %v", pod)
	}
	k.fail(args("create token robot --bound-object-kind Pod --bound-object-name plain"), `pod "plain": the pod runs as serviceaccount "default"`)
	k.ok(withToken(bound, "get", "pod", "bot"), "bot")
	k.ok(args("delete pod bot --grace-period=0 --force"), `pod "bot" force deleted`)
	k.fail(withToken(bound, "get", "pods"), "Unauthorized")

	// Deleting the service account ends its tokens, even with the same name made again.
	k.ok(args("delete sa robot"), `serviceaccount "robot" deleted`)
	k.fail(withToken(token, "get", "pods"), "Unauthorized")
	k.ok(args("create sa robot"), "serviceaccount/robot created")
	k.fail(withToken(token, "get", "pods"), "Unauthorized")
	k.ok(withToken(strings.TrimSpace(k.ok(args("create token robot"))), "get", "sa", "robot"), "robot")
}

// jwtClaims decodes a token's payload (without checking it: the server did).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A ServiceAccount's secrets keep only their names, on create and on update, as
// kube-apiserver's strategy keeps them (the defaulting oracle compares creates).
func TestServiceAccountSecretsKeepOnlyNames(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx := context.Background()
	ref := corev1.ObjectReference{Kind: "Secret", Namespace: "elsewhere", Name: "s1", UID: "u", FieldPath: "x"}
	sa, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"},
		Secrets: []corev1.ObjectReference{ref}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []corev1.ObjectReference{{Name: "s1"}}; !reflect.DeepEqual(sa.Secrets, want) {
		t.Fatalf("created with secrets %+v, want %+v", sa.Secrets, want)
	}
	ref.Name = "s2"
	sa.Secrets = append(sa.Secrets, ref)
	if sa, err = cs.CoreV1().ServiceAccounts("default").Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := []corev1.ObjectReference{{Name: "s1"}, {Name: "s2"}}; !reflect.DeepEqual(sa.Secrets, want) {
		t.Fatalf("updated with secrets %+v, want %+v", sa.Secrets, want)
	}
}
