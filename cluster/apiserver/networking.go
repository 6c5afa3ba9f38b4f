package apiserver

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/printers"
	"webkube/cluster/validation"
)

// networking.k8s.io/v1: Ingresses with their IngressClasses, which webkube's ingress
// controller serves, and NetworkPolicies, which webkube stores but does not enforce.

var networkingV1 = networkingv1.SchemeGroupVersion

var networkingResources = []*resource{
	{gvr: networkingV1.WithResource("ingresses"), kind: "Ingress", singular: "ingress", namespaced: true,
		shortNames: []string{"ing"}, subresources: []string{"status"}, hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &networkingv1.Ingress{} }, newList: func() runtime.Object { return &networkingv1.IngressList{} }},
	{gvr: networkingV1.WithResource("ingressclasses"), kind: "IngressClass", singular: "ingressclass", bumpGeneration: true,
		newObj: func() runtime.Object { return &networkingv1.IngressClass{} }, newList: func() runtime.Object { return &networkingv1.IngressClassList{} }},
	{gvr: networkingV1.WithResource("networkpolicies"), kind: "NetworkPolicy", singular: "networkpolicy", namespaced: true,
		shortNames: []string{"netpol"}, bumpGeneration: true,
		newObj: func() runtime.Object { return &networkingv1.NetworkPolicy{} }, newList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} }},
}

func init() {
	resourceTable = append(resourceTable, networkingResources...)
	groupVersions = append(groupVersions, networkingV1)
}

// defaultIngressClass is kube-apiserver's DefaultIngressClass admission plugin: a new
// Ingress that names no class (neither ingressClassName nor the old annotation) gets the
// default IngressClass, the newest when several are marked default.
func (s *Server) defaultIngressClass(ctx context.Context, ing *networkingv1.Ingress) error {
	if ing.Spec.IngressClassName != nil {
		return nil
	}
	if _, ok := ing.Annotations[validation.IngressClassAnnotation]; ok {
		return nil
	}
	r := resourceFor(networkingV1.WithResource("ingressclasses").GroupResource())
	kvs, _, err := s.store.List(ctx, r.listPrefix(""), 0)
	if err != nil {
		return err
	}
	var best *networkingv1.IngressClass
	for _, kv := range kvs {
		obj, err := decodeKV(r, kv)
		if err != nil {
			return err
		}
		ic := obj.(*networkingv1.IngressClass)
		if ic.Annotations[printers.IsDefaultIngressClassAnnotation] != "true" {
			continue
		}
		if best == nil || ic.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(ic.CreationTimestamp.Equal(&best.CreationTimestamp) && ic.Name < best.Name) {
			best = ic
		}
	}
	if best != nil {
		name := best.Name
		ing.Spec.IngressClassName = &name
	}
	return nil
}
