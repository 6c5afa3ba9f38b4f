package oracle

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/apis/core/validation"
)

// allocateServiceNodePorts is the rest of what kube-apiserver's service allocator does
// before validation (its BeginCreate hook runs before the strategy validates): the cluster
// IP fields are checked first, then the requested node ports are taken from the default
// range 30000-32767. Either failure is the whole answer: a Service refused there is not
// validated at all. (The allocation of a requested cluster IP in the service CIDR is not
// modelled: webkube's validation does not know the CIDR, its allocator does.)
func allocateServiceNodePorts(svc *api.Service) error {
	if svc.Spec.Type == api.ServiceTypeExternalName {
		return nil
	}
	if el := validation.ValidateServiceClusterIPsRelatedFields(svc); len(el) > 0 {
		return apierrors.NewInvalid(api.Kind("Service"), svc.Name, el)
	}
	if svc.Spec.Type != api.ServiceTypeNodePort && svc.Spec.Type != api.ServiceTypeLoadBalancer {
		return nil
	}
	used := map[int32]bool{}
	take := func(np int32) string {
		switch {
		case np < 30000 || np > 32767:
			return "provided port is not in the valid range. The range of valid ports is 30000-32767"
		case used[np]:
			return "provided port is already allocated"
		}
		used[np] = true
		return ""
	}
	next := int32(30000)
	byPort := map[int32]int32{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		allocate := svc.Spec.Type == api.ServiceTypeNodePort ||
			svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
		if sp.NodePort == 0 && !allocate {
			continue
		}
		np := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if have := byPort[sp.Port]; have != 0 {
			if sp.NodePort == 0 {
				sp.NodePort = have
			} else if sp.NodePort != have {
				if msg := take(sp.NodePort); msg != "" {
					return apierrors.NewInvalid(api.Kind("Service"), svc.Name, field.ErrorList{field.Invalid(np, sp.NodePort, msg)})
				}
			}
			continue
		}
		requested := int32(0)
		for _, other := range svc.Spec.Ports {
			if other.Port == sp.Port && other.NodePort != 0 {
				requested = other.NodePort
				break
			}
		}
		if requested == 0 {
			for used[next] {
				next++
			}
			requested = next
			used[next] = true
		} else if msg := take(requested); msg != "" {
			return apierrors.NewInvalid(api.Kind("Service"), svc.Name, field.ErrorList{field.Invalid(np, requested, msg)})
		}
		sp.NodePort = requested
		byPort[sp.Port] = requested
	}
	return nil
}
