package defaulting

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// defaultNetworkPolicy follows networking/v1's SetDefaults_NetworkPolicy and
// SetDefaults_NetworkPolicyPort: a policy without policyTypes is an Ingress policy, and an
// Egress one too when it has egress rules; ports are TCP unless they say otherwise.
func defaultNetworkPolicy(np *networkingv1.NetworkPolicy) {
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	for i := range np.Spec.Ingress {
		defaultPolicyPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		defaultPolicyPorts(np.Spec.Egress[i].Ports)
	}
}

func defaultPolicyPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			ports[i].Protocol = ptr(corev1.ProtocolTCP)
		}
	}
}

// defaultIngressClass follows SetDefaults_IngressClass: parameters are cluster-scoped
// unless they say otherwise.
func defaultIngressClass(ic *networkingv1.IngressClass) {
	if p := ic.Spec.Parameters; p != nil && p.Scope == nil {
		p.Scope = ptr(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}
