package validation

import (
	"net"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages and paths follow kube-apiserver's networking validation (ValidateIngressCreate,
// ValidateIngressClass, ValidateNetworkPolicy).

// IngressClassAnnotation is the annotation that named an Ingress's class before
// spec.ingressClassName.
const IngressClassAnnotation = "kubernetes.io/ingress.class"

var supportedPathTypes = sets.New(string(networkingv1.PathTypeExact), string(networkingv1.PathTypePrefix),
	string(networkingv1.PathTypeImplementationSpecific))

// invalidPathSequences may not appear in an Exact or Prefix path; invalidPathSuffixes may
// not end one.
var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	errs := objectMeta(&ing.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, validateIngressSpec(&ing.Spec, field.NewPath("spec"))...)
	if ann, ok := ing.Annotations[IngressClassAnnotation]; ok && ing.Spec.IngressClassName != nil && ann != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(IngressClassAnnotation), ann,
			"must match `ingressClassName` when both are specified"))
	}
	return errs
}

func validateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	return append(metaUpdate(&ing.ObjectMeta, &old.ObjectMeta), validateIngressSpec(&ing.Spec, field.NewPath("spec"))...)
}

func validateIngressSpec(spec *networkingv1.IngressSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, rule := range spec.Rules {
		errs = append(errs, validateIngressRule(&rule, p.Child("rules").Index(i))...)
	}
	for i, tls := range spec.TLS {
		tp := p.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			// A certificate may name an IP address, so unlike a rule's host this one may be one.
			errs = append(errs, dnsOrWildcard(host, tp.Child("hosts").Index(j))...)
		}
		if tls.SecretName != "" {
			errs = append(errs, dns1123Subdomain(tls.SecretName, tp.Child("secretName"))...)
		}
	}
	if spec.IngressClassName != nil {
		errs = append(errs, dns1123Subdomain(*spec.IngressClassName, p.Child("ingressClassName"))...)
	}
	return errs
}

// ingressHost is a DNS name, possibly with a leading "*." wildcard, never an IP address.
func ingressHost(host string, p *field.Path) field.ErrorList {
	if net.ParseIP(host) != nil {
		return field.ErrorList{field.Invalid(p, host, "must be a DNS name, not an IP address")}
	}
	return dnsOrWildcard(host, p)
}

// dnsOrWildcard: a DNS subdomain, or one whose first label is "*".
func dnsOrWildcard(host string, p *field.Path) field.ErrorList {
	msgs := utilvalidation.IsDNS1123Subdomain(host)
	if strings.Contains(host, "*") {
		msgs = utilvalidation.IsWildcardDNS1123Subdomain(host)
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, host, msg))
	}
	return errs
}

func validateIngressRule(rule *networkingv1.IngressRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rule.Host != "" {
		errs = ingressHost(rule.Host, p.Child("host"))
	}
	if rule.HTTP == nil {
		return errs
	}
	hp := p.Child("http")
	if len(rule.HTTP.Paths) == 0 {
		return append(errs, field.Required(hp.Child("paths"), ""))
	}
	for i, path := range rule.HTTP.Paths {
		errs = append(errs, validateHTTPIngressPath(&path, hp.Child("paths").Index(i))...)
	}
	return errs
}

func validateHTTPIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch {
	case !supportedPathTypes.Has(string(*path.PathType)):
		errs = append(errs, field.NotSupported(p.Child("pathType"), *path.PathType, sets.List(supportedPathTypes)))
	case *path.PathType == networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, exactOrPrefixPath(path.Path, p.Child("path"))...)
	}
	return append(errs, validateIngressBackend(&path.Backend, p.Child("backend"))...)
}

func exactOrPrefixPath(path string, p *field.Path) field.ErrorList {
	if !strings.HasPrefix(path, "/") {
		return field.ErrorList{field.Invalid(p, path, "must be an absolute path")}
	}
	var errs field.ErrorList
	for _, seq := range invalidPathSequences {
		if strings.Contains(path, seq) {
			errs = append(errs, field.Invalid(p, path, "must not contain '"+seq+"'"))
		}
	}
	for _, suf := range invalidPathSuffixes {
		if strings.HasSuffix(path, suf) {
			errs = append(errs, field.Invalid(p, path, "cannot end with '"+suf+"'"))
		}
	}
	return errs
}

// validateIngressBackend: exactly one of a Service (by name, with a port name or number)
// or a typed resource.
func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		var errs field.ErrorList
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(p.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("resource", "name"), ""))
		}
		return errs
	case b.Service == nil:
		return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
	}
	var errs field.ErrorList
	sp := p.Child("service")
	if b.Service.Name == "" {
		errs = append(errs, field.Required(sp.Child("name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNS1035Label(b.Service.Name, false) {
			errs = append(errs, field.Invalid(sp.Child("name"), b.Service.Name, msg))
		}
	}
	port := b.Service.Port
	switch {
	case port.Name != "" && port.Number != 0:
		errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
	case port.Name != "":
		for _, msg := range utilvalidation.IsValidPortName(port.Name) {
			errs = append(errs, field.Invalid(sp.Child("port", "name"), port.Name, msg))
		}
	case port.Number != 0:
		errs = append(errs, portNum(port.Number, sp.Child("port", "number"))...)
	default:
		errs = append(errs, field.Required(p, "port name or number is required"))
	}
	return errs
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	errs := objectMeta(&ic.ObjectMeta, false, nameIsDNSSubdomain)
	p := field.NewPath("spec", "controller")
	if ic.Spec.Controller == "" {
		errs = append(errs, field.Required(p, ""))
	} else {
		errs = append(errs, domainPrefixedPath(ic.Spec.Controller, p)...)
	}
	if pr := ic.Spec.Parameters; pr != nil {
		pp := field.NewPath("spec", "parameters")
		if pr.Kind == "" {
			errs = append(errs, field.Required(pp.Child("kind"), ""))
		}
		if pr.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		if pr.Scope != nil && *pr.Scope != networkingv1.IngressClassParametersReferenceScopeCluster &&
			*pr.Scope != networkingv1.IngressClassParametersReferenceScopeNamespace {
			errs = append(errs, field.NotSupported(pp.Child("scope"), *pr.Scope, []string{"Cluster", "Namespace"}))
		}
	}
	return errs
}

func validateIngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	errs := append(metaUpdate(&ic.ObjectMeta, &old.ObjectMeta), validateIngressClass(ic)...)
	return append(errs, apivalidation.ValidateImmutableField(ic.Spec.Controller, old.Spec.Controller, field.NewPath("spec", "controller"))...)
}

// domainPrefixedPath is a controller name such as example.com/ingress-controller.
func domainPrefixedPath(v string, p *field.Path) field.ErrorList {
	host, rest, ok := strings.Cut(v, "/")
	if !ok || rest == "" {
		return field.ErrorList{field.Invalid(p, v, "must be a domain-prefixed path (such as \"acme.io/foo\")")}
	}
	return dns1123Subdomain(host, p)
}

// validateNetworkPolicy checks the policy's shape; webkube stores NetworkPolicies but
// enforces none (see the README).
func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	errs := objectMeta(&np.ObjectMeta, true, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("podSelector"))...)
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(sp.Child("policyTypes").Index(i), t, []string{"Egress", "Ingress"}))
		}
	}
	for i, r := range np.Spec.Ingress {
		for j, port := range r.Ports {
			errs = append(errs, policyPort(&port, sp.Child("ingress").Index(i).Child("ports").Index(j))...)
		}
	}
	for i, r := range np.Spec.Egress {
		for j, port := range r.Ports {
			errs = append(errs, policyPort(&port, sp.Child("egress").Index(i).Child("ports").Index(j))...)
		}
	}
	return errs
}

func validateNetworkPolicyUpdate(np, old *networkingv1.NetworkPolicy) field.ErrorList {
	return append(metaUpdate(&np.ObjectMeta, &old.ObjectMeta), validateNetworkPolicy(np)...)
}

func policyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil {
		errs = append(errs, protocol(string(*port.Protocol), p.Child("protocol"))...)
	}
	if port.Port != nil {
		errs = append(errs, portNumOrName(*port.Port, p.Child("port"))...)
	}
	return errs
}
