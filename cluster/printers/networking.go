package printers

import (
	"fmt"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Columns and cells follow kubernetes' printIngress, printIngressClass and
// printNetworkPolicy.

// IsDefaultIngressClassAnnotation marks the IngressClass an Ingress naming none gets.
const IsDefaultIngressClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

func init() {
	g := "networking.k8s.io"
	columns[schema.GroupResource{Group: g, Resource: "ingresses"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Class", "string", "The name of the IngressClass resource that should be used"),
		col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
		col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
		col("Ports", "string", "Ports of TLS configurations that open"),
		ageColumn,
	}
	columns[schema.GroupResource{Group: g, Resource: "ingressclasses"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Controller", "string", "Controller that is responsible for handling this class"),
		col("Parameters", "string", "A reference to a resource with additional parameters"),
		ageColumn,
	}
	columns[schema.GroupResource{Group: g, Resource: "networkpolicies"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies."),
		ageColumn,
	}
}

func ingressCells(ing *networkingv1.Ingress, now time.Time) []interface{} {
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	return []interface{}{ing.Name, class, IngressHosts(ing.Spec.Rules), IngressAddress(ing.Status.LoadBalancer),
		IngressPorts(ing.Spec.TLS), age(ing.CreationTimestamp, now)}
}

// IngressHosts is kubectl's formatHosts: up to three hosts, "*" when no rule names one.
func IngressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var list []string
	more := false
	for _, r := range rules {
		if len(list) == max {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	out := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", out, len(rules)-max)
	}
	return out
}

// IngressAddress lists the load balancer's IPs (or host names), sorted.
func IngressAddress(lb networkingv1.IngressLoadBalancerStatus) string {
	s := sets.New[string]()
	for _, in := range lb.Ingress {
		if in.IP != "" {
			s.Insert(in.IP)
		} else if in.Hostname != "" {
			s.Insert(in.Hostname)
		}
	}
	return strings.Join(sets.List(s), ",")
}

// IngressPorts is "80", or "80, 443" when the Ingress terminates TLS.
func IngressPorts(tls []networkingv1.IngressTLS) string {
	if len(tls) != 0 {
		return "80, 443"
	}
	return "80"
}

func ingressClassCells(ic *networkingv1.IngressClass, now time.Time) []interface{} {
	params := "<none>"
	if p := ic.Spec.Parameters; p != nil {
		params = p.Kind
		if p.APIGroup != nil {
			params += "." + *p.APIGroup
		}
		params += "/" + p.Name
	}
	return []interface{}{ic.Name, ic.Spec.Controller, params, age(ic.CreationTimestamp, now)}
}

func networkPolicyCells(np *networkingv1.NetworkPolicy, now time.Time) []interface{} {
	return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), age(np.CreationTimestamp, now)}
}
