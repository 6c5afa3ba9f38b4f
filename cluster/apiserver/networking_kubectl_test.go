package apiserver_test

import (
	"context"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// Ingresses, IngressClasses and NetworkPolicies through the real kubectl, with no
// controllers running: discovery, explain, the DefaultIngressClass admission, validation
// with kube-apiserver's messages and the columns kubectl prints.
func TestKubectlNetworkingAPI(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	k.ok(args("api-resources --api-group=networking.k8s.io"), "ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress",
		"ingressclasses", "IngressClass", "networkpolicies", "netpol", "NetworkPolicy")
	k.ok(args("explain ingress.spec.rules.http.paths"), "pathType", "backend")

	// No default class yet: the Ingress keeps none.
	k.ok(args("create -f ingress.yml"), "ingress.networking.k8s.io/shop created")
	ing, err := cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ing.Spec.IngressClassName != nil || ing.Generation != 1 {
		t.Fatalf("ingress: class %v generation %d", ing.Spec.IngressClassName, ing.Generation)
	}
	k.ok(args("get ingress shop"), "NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE",
		"shop", "<none>", "shop.example.com,blog.example.com", "80, 443")
	k.ok(args("delete ingress shop"), "deleted")

	k.ok(args("create -f ingress-class.yml"), "ingressclass.networking.k8s.io/webkube created")
	k.ok(args("get ingressclass"), "NAME", "CONTROLLER", "PARAMETERS", "webkube", "webkube.io/ingress-controller", "<none>")
	k.ok([]string{"create", "-f", "ingress.yml", "--dry-run=server", "-o", "jsonpath={.spec.ingressClassName}"}, "webkube")
	k.fail([]string{"patch", "ingressclass", "webkube", "-p", `{"spec":{"controller":"example.com/other"}}`},
		"spec.controller: Invalid value: \"example.com/other\": field is immutable")

	// The controller's status write goes through /status and shows as ADDRESS.
	k.ok(args("create -f ingress.yml"), "ingress.networking.k8s.io/shop created")
	ing, err = cs.NetworkingV1().Ingresses("default").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ing.Status.LoadBalancer.Ingress = append(ing.Status.LoadBalancer.Ingress, networkingIngressIP("127.0.0.1"))
	if _, err := cs.NetworkingV1().Ingresses("default").UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.ok(args("get ing shop"), "shop", "webkube", "127.0.0.1", "80, 443")
	k.ok(args("describe ingress shop"), "Ingress Class:", "webkube", "shop.example.com", "/api", "api:8080", "web:http")

	k.fail(args("create -f ingress-bad.yml"), `The Ingress "bad" is invalid`,
		`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`,
		`spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified`,
		`spec.rules[0].http.paths[1].backend.service.name: Invalid value: "Bad_Name"`,
		`spec.rules[0].http.paths[1].backend: Required value: port name or number is required`)
	k.fail(args("create -f ingress-empty.yml"), "spec: Invalid value: ", "either `defaultBackend` or `rules` must be specified")

	k.ok(args("create -f networkpolicy.yml"), "networkpolicy.networking.k8s.io/db-only-from-api created")
	k.ok(args("get netpol"), "NAME", "POD-SELECTOR", "db-only-from-api", "app=db")
	np, err := cs.NetworkingV1().NetworkPolicies("default").Get(ctx, "db-only-from-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != "Ingress" || *np.Spec.Ingress[0].Ports[0].Protocol != "TCP" {
		t.Fatalf("network policy defaults: %v %v", np.Spec.PolicyTypes, np.Spec.Ingress[0].Ports)
	}
}

func networkingIngressIP(ip string) networkingv1.IngressLoadBalancerIngress {
	return networkingv1.IngressLoadBalancerIngress{IP: ip}
}
