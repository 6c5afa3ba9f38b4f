package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName)
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), specPath.Child("finalizers").Index(i))...)
	}
	return errs
}

func validateNode(node *corev1.Node) field.ErrorList {
	errs := objectMeta(&node.ObjectMeta, false, nameIsDNSSubdomain)
	seen := sets.New[string]()
	for i, t := range node.Spec.Taints {
		p := specPath.Child("taints").Index(i)
		errs = append(errs, labelName(t.Key, lazy(p).child("key"))...)
		if t.Value != "" {
			for _, msg := range utilvalidation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
			}
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(p.Child("effect"), ""))
		} else {
			errs = append(errs, taintEffect(t.Effect, lazy(p).child("effect"))...)
		}
		key := t.Key + "/" + string(t.Effect)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("taints must be unique by key and effect pair (%s)", key)))
		}
		seen.Insert(key)
	}
	for i, cidr := range node.Spec.PodCIDRs {
		errs = append(errs, utilvalidation.IsValidCIDR(specPath.Child("podCIDRs").Index(i), cidr)...)
	}
	return errs
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := objectMeta(&ep.ObjectMeta, true, nameIsDNSSubdomain)
	for i, ss := range ep.Subsets {
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(a, p.Child("addresses").Index(j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(a, p.Child("notReadyAddresses").Index(j))...)
		}
		names := sets.New[string]()
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			switch {
			case port.Name == "" && len(ss.Ports) > 1:
				errs = append(errs, field.Required(pp.Child("name"), ""))
			case port.Name != "" && names.Has(port.Name):
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			case port.Name != "":
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			names.Insert(port.Name)
			errs = append(errs, portNum(port.Port, pp.Child("port"))...)
			errs = append(errs, protocol(string(port.Protocol), pp.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a corev1.EndpointAddress, path *field.Path) field.ErrorList {
	errs := utilvalidation.IsValidIP(path.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, path.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, dns1123Subdomain(*a.NodeName, path.Child("nodeName"))...)
	}
	return errs
}

const (
	maxEndpointSliceEndpoints = 1000
	maxEndpointSlicePorts     = 100
	maxEndpointAddresses      = 100
)

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMeta(&es.ObjectMeta, true, nameIsDNSSubdomain)
	atPath := field.NewPath("addressType")
	switch es.AddressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	case "":
		errs = append(errs, field.Required(atPath, ""))
	default:
		errs = append(errs, field.NotSupported(atPath, es.AddressType, []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}))
	}
	epPath := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointSliceEndpoints {
		errs = append(errs, field.TooMany(epPath, len(es.Endpoints), maxEndpointSliceEndpoints))
	}
	for i, ep := range es.Endpoints {
		p := epPath.Index(i)
		ap := p.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(ep.Addresses) > maxEndpointAddresses:
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), maxEndpointAddresses))
		}
		for j, addr := range ep.Addresses {
			switch es.AddressType {
			case discoveryv1.AddressTypeIPv4:
				errs = append(errs, utilvalidation.IsValidIPv4Address(ap.Index(j), addr)...)
			case discoveryv1.AddressTypeIPv6:
				errs = append(errs, utilvalidation.IsValidIPv6Address(ap.Index(j), addr)...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, dns1123Subdomain(addr, ap.Index(j))...)
			}
		}
		if ep.NodeName != nil {
			errs = append(errs, dns1123Subdomain(*ep.NodeName, p.Child("nodeName"))...)
		}
		if ep.Hostname != nil {
			errs = append(errs, dns1123Label(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.TargetRef != nil && ep.TargetRef.Kind == "" {
			errs = append(errs, field.Required(p.Child("targetRef", "kind"), ""))
		}
	}
	portsPath := field.NewPath("ports")
	if len(es.Ports) > maxEndpointSlicePorts {
		errs = append(errs, field.TooMany(portsPath, len(es.Ports), maxEndpointSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		p := portsPath.Index(i)
		if port.Name != nil && *port.Name != "" {
			if names.Has(*port.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), *port.Name))
			} else {
				errs = append(errs, dns1123Label(*port.Name, p.Child("name"))...)
			}
			names.Insert(*port.Name)
		}
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, protocol(string(*port.Protocol), p.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, portNum(*port.Port, p.Child("port"))...)
		}
	}
	return errs
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := metaUpdate(&es.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEndpointSlice(es)...)
	errs = append(errs, apivalidation.ValidateImmutableField(es.AddressType, old.AddressType, field.NewPath("addressType"))...)
	return errs
}

// validateEvent requires the event to live in its object's namespace (events about
// cluster-scoped objects such as nodes go to "default").
func validateEvent(ev *corev1.Event) field.ErrorList {
	errs := objectMeta(&ev.ObjectMeta, true, nameIsDNSSubdomain)
	nsPath := field.NewPath("involvedObject", "namespace")
	if ev.InvolvedObject.Namespace == "" {
		if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
			errs = append(errs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else if ev.Namespace != ev.InvolvedObject.Namespace {
		errs = append(errs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	switch ev.Type {
	case "", corev1.EventTypeNormal, corev1.EventTypeWarning:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("type"), ev.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}))
	}
	return errs
}

// maxConfigMapSize is the limit kube-apiserver puts on a ConfigMap's data (1 MiB).
const maxConfigMapSize = corev1.MaxSecretSize

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := objectMeta(&cm.ObjectMeta, true, nameIsDNSSubdomain)
	size := 0
	for key, value := range cm.Data {
		size += len(value)
		for _, msg := range utilvalidation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, msg))
		}
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, "duplicate of key present in binaryData"))
		}
	}
	for key, value := range cm.BinaryData {
		size += len(value)
		for _, msg := range utilvalidation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(key), key, msg))
		}
	}
	if size > maxConfigMapSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxConfigMapSize))
	}
	return errs
}

// validateConfigMapUpdate: once a ConfigMap is marked immutable, its data and the mark stay.
func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := metaUpdate(&cm.ObjectMeta, &old.ObjectMeta)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !mapsEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if len(cm.BinaryData) != len(old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		} else {
			for k, v := range old.BinaryData {
				if string(cm.BinaryData[k]) != string(v) {
					errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
					break
				}
			}
		}
	}
	return append(errs, validateConfigMap(cm)...)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
