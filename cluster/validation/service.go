package validation

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodePortRange is the range of node ports webkube hands out, Kubernetes' default.
const (
	maxClientIPAffinitySeconds = 86400

	NodePortMin = 30000
	NodePortMax = 32767
)

func validateService(svc *corev1.Service) field.ErrorList {
	// kube-apiserver allocates a Service's cluster IPs and node ports before it validates
	// the Service, and a Service its allocator refuses gets that answer alone.
	if errs := serviceAllocation(&svc.Spec); len(errs) > 0 {
		return errs
	}
	// Service names become DNS names and environment variables, hence DNS-1035.
	errs := objectMeta(&svc.ObjectMeta, true, apivalidation.NameIsDNS1035Label)
	spec := &svc.Spec
	errs = append(errs, serviceType(spec)...)
	errs = append(errs, serviceClusterIP(spec)...)
	errs = append(errs, servicePorts(spec)...)
	errs = append(errs, labels(spec.Selector, specPath.Child("selector"))...)
	errs = append(errs, sessionAffinity(spec)...)
	errs = append(errs, trafficAndFamilies(spec)...)
	errs = append(errs, serviceLoadBalancer(spec)...)
	return errs
}

// serviceLoadBalancer checks what only a LoadBalancer Service may set, and the health check
// node port that only one with externalTrafficPolicy Local has.
func serviceLoadBalancer(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	lb := spec.Type == corev1.ServiceTypeLoadBalancer
	onlyLB := "may only be used when `type` is 'LoadBalancer'"
	if len(spec.LoadBalancerSourceRanges) > 0 {
		// kube-apiserver spells this path with a capital L.
		p := specPath.Child("LoadBalancerSourceRanges")
		if !lb {
			errs = append(errs, field.Forbidden(p, onlyLB))
		}
		for i, r := range spec.LoadBalancerSourceRanges {
			errs = append(errs, utilvalidation.IsValidCIDR(p.Index(i), strings.TrimSpace(r))...)
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && !lb {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), onlyLB))
	}
	if c := spec.LoadBalancerClass; c != nil && lb {
		errs = append(errs, qualifiedName(*c, specPath.Child("loadBalancerClass"))...)
	} else if c != nil {
		errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), onlyLB))
	}
	hc := specPath.Child("healthCheckNodePort")
	switch needsHC := lb && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal; {
	case !needsHC && spec.HealthCheckNodePort != 0:
		errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	case needsHC && spec.HealthCheckNodePort != 0:
		errs = append(errs, portNum(spec.HealthCheckNodePort, hc)...)
	}
	if d := spec.TrafficDistribution; d != nil && *d != corev1.ServiceTrafficDistributionPreferClose {
		errs = append(errs, field.NotSupported(specPath.Child("trafficDistribution"), *d, []string{corev1.ServiceTrafficDistributionPreferClose}))
	}
	for i, sp := range spec.Ports {
		if sp.AppProtocol != nil {
			errs = append(errs, qualifiedName(*sp.AppProtocol, specPath.Child("ports").Index(i).Child("appProtocol"))...)
		}
	}
	return errs
}

// serviceType checks the type and what each type requires.
func serviceType(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	headless := spec.ClusterIP == corev1.ClusterIPNone
	switch spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if len(spec.Ports) == 0 && !headless {
			errs = append(errs, field.Required(specPath.Child("ports"), ""))
		}
	case corev1.ServiceTypeExternalName:
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if spec.ExternalName == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		} else {
			errs = append(errs, dns1123Subdomain(spec.ExternalName, specPath.Child("externalName"))...)
		}
	case "":
		errs = append(errs, field.Required(specPath.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("type"), spec.Type,
			[]corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}))
	}
	return errs
}

// serviceClusterIP checks clusterIP and clusterIPs: an address or None, None only where
// a headless Service makes sense.
func serviceClusterIP(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	headless := spec.ClusterIP == corev1.ClusterIPNone
	if spec.ClusterIP != "" && !headless {
		if _, err := netip.ParseAddr(spec.ClusterIP); err != nil {
			// Reported on clusterIPs, which defaulting fills from clusterIP, as kube-apiserver does.
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIP, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		}
	}
	if headless && spec.Type == corev1.ServiceTypeNodePort {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIP, "may not be set to 'None' for NodePort services"))
	}
	if headless && spec.Type == corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIP, "may not be set to 'None' for LoadBalancer services"))
	}
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != "" && spec.ClusterIPs[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0], "must match `clusterIP` when `clusterIP` is set"))
	}
	return errs
}

type servicePortKey struct {
	port     int32
	protocol corev1.Protocol
}

// servicePorts checks each port: names (required and unique when there are several),
// numbers, protocols, targets, no port/protocol twice, node ports in range and unique.
func servicePorts(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	seen := map[servicePortKey]bool{}
	nodePorts := map[servicePortKey]bool{}
	for i := range spec.Ports {
		sp := &spec.Ports[i]
		p := specPath.Child("ports").Index(i)
		switch {
		case sp.Name == "" && len(spec.Ports) > 1:
			errs = append(errs, field.Required(p.Child("name"), ""))
		case sp.Name != "" && names.Has(sp.Name):
			errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
		case sp.Name != "":
			errs = append(errs, dns1123Label(sp.Name, p.Child("name"))...)
		}
		names.Insert(sp.Name)
		errs = append(errs, portNum(sp.Port, p.Child("port"))...)
		errs = append(errs, protocol(string(sp.Protocol), p.Child("protocol"))...)
		errs = append(errs, portNumOrName(sp.TargetPort, p.Child("targetPort"))...)
		key := servicePortKey{sp.Port, sp.Protocol}
		if seen[key] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)))
		}
		seen[key] = true
		errs = append(errs, nodePort(spec, sp, p.Child("nodePort"), nodePorts)...)
	}
	return errs
}

func nodePort(spec *corev1.ServiceSpec, sp *corev1.ServicePort, np *field.Path, used map[servicePortKey]bool) field.ErrorList {
	if sp.NodePort == 0 {
		return nil
	}
	var errs field.ErrorList
	// An ExternalName Service's node ports are not refused: kube-apiserver leaves them.
	if spec.Type == corev1.ServiceTypeClusterIP {
		errs = append(errs, field.Forbidden(np, fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
	}
	nk := servicePortKey{sp.NodePort, sp.Protocol}
	if used[nk] {
		errs = append(errs, field.Duplicate(np, sp.NodePort))
	}
	used[nk] = true
	return errs
}

func sessionAffinity(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	case corev1.ServiceAffinityClientIP:
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
		}
	case "":
		errs = append(errs, field.Required(specPath.Child("sessionAffinity"), ""))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("sessionAffinity"), spec.SessionAffinity, []corev1.ServiceAffinity{corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP}))
	}
	return errs
}

// trafficAndFamilies checks the traffic policies, IP families and external IPs.
func trafficAndFamilies(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	if p := spec.InternalTrafficPolicy; p != nil && *p != corev1.ServiceInternalTrafficPolicyCluster && *p != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, field.NotSupported(specPath.Child("internalTrafficPolicy"), *p, []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}))
	}
	if p := spec.ExternalTrafficPolicy; p != "" {
		// A ClusterIP Service with external IPs is reachable from outside too.
		internal := spec.Type == corev1.ServiceTypeExternalName || spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) == 0
		if internal {
			errs = append(errs, field.Invalid(specPath.Child("externalTrafficPolicy"), p, "may only be set for externally-accessible services"))
		} else if p != corev1.ServiceExternalTrafficPolicyCluster && p != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.NotSupported(specPath.Child("externalTrafficPolicy"), p, []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}))
		}
	}
	if p := spec.IPFamilyPolicy; p != nil {
		switch *p {
		case corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack:
		default:
			errs = append(errs, field.NotSupported(specPath.Child("ipFamilyPolicy"), *p, []corev1.IPFamilyPolicy{corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack}))
		}
	}
	for i, f := range spec.IPFamilies {
		if f != corev1.IPv4Protocol && f != corev1.IPv6Protocol {
			errs = append(errs, field.NotSupported(specPath.Child("ipFamilies").Index(i), f, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}))
		}
	}
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, utilvalidation.IsValidIP(specPath.Child("externalIPs").Index(i), ip)...)
	}
	return errs
}

// validateServiceUpdate keeps an allocated cluster IP: it may only change when the type
// changes to or from ExternalName.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := metaUpdate(&svc.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateService(svc)...)
	external := svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName
	// An update that leaves the cluster IP out keeps the allocated one, as kube-apiserver's
	// service registry does; the API server copies it over after validation.
	if !external && old.Spec.ClusterIP != "" && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != old.Spec.ClusterIP {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), svc.Spec.ClusterIP, "may not change once set"))
	}
	return errs
}

// serviceAllocation is what kube-apiserver's service allocator refuses before validation:
// cluster IP fields it cannot read, then the first requested node port it cannot take from
// the range (out of it, or taken by another port of the Service).
func serviceAllocation(spec *corev1.ServiceSpec) field.ErrorList {
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if errs := serviceIPFields(spec); len(errs) > 0 {
		return errs
	}
	if spec.Type != corev1.ServiceTypeNodePort && spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	if e := takeNodePorts(spec); e != nil {
		return field.ErrorList{e}
	}
	return nil
}

// serviceIPFields checks clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy together, as
// the allocator needs them (kube's ValidateServiceClusterIPsRelatedFields).
func serviceIPFields(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	ips := spec.ClusterIPs
	if spec.ClusterIP != "" && len(ips) == 0 {
		// The allocator starts from clusterIP when clusterIPs is empty (defaulting does too).
		ips = []string{spec.ClusterIP}
	}
	ipsPath := specPath.Child("clusterIPs")
	switch {
	case spec.ClusterIP != "" && len(ips) == 0:
		errs = append(errs, field.Required(ipsPath, ""))
	case spec.ClusterIP != "" && ips[0] != spec.ClusterIP:
		errs = append(errs, field.Invalid(ipsPath, ips, "first value must match `clusterIP`"))
	case spec.ClusterIP == "" && len(ips) != 0:
		errs = append(errs, field.Invalid(ipsPath, ips, "must be empty when `clusterIP` is not specified"))
	}
	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		if f != corev1.IPv4Protocol && f != corev1.IPv6Protocol {
			errs = append(errs, field.NotSupported(specPath.Child("ipFamilies").Index(i), f, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}))
		}
		if seen.Has(f) {
			errs = append(errs, field.Duplicate(specPath.Child("ipFamilies").Index(i), f))
		}
		seen.Insert(f)
	}
	if p := spec.IPFamilyPolicy; p != nil {
		errs = append(errs, enum(string(*p), specPath.Child("ipFamilyPolicy"), string(corev1.IPFamilyPolicyPreferDualStack),
			string(corev1.IPFamilyPolicyRequireDualStack), string(corev1.IPFamilyPolicySingleStack))...)
	}
	badIPs := false
	for i, ip := range ips {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(ips) > 1 {
				badIPs = true
				errs = append(errs, field.Invalid(ipsPath, ips, "'None' must be the first and only value"))
			}
			continue
		}
		if e := utilvalidation.IsValidIP(ipsPath.Index(i), ip); len(e) > 0 {
			badIPs = true
			errs = append(errs, e...)
		}
	}
	if len(ips) > 2 {
		errs = append(errs, field.Invalid(ipsPath, ips, "may only hold up to 2 values"))
	}
	if badIPs {
		return errs
	}
	return append(errs, ipFamilyMatch(spec, ips)...)
}

// ipFamilyMatch: two cluster IPs are one of each family, and each IP is of the family
// ipFamilies gives at its place.
func ipFamilyMatch(spec *corev1.ServiceSpec, ips []string) field.ErrorList {
	var errs field.ErrorList
	ipsPath := specPath.Child("clusterIPs")
	if len(ips) > 1 && isIPv6(ips[0]) == isIPv6(ips[1]) {
		errs = append(errs, field.Invalid(ipsPath, ips, "may specify no more than one IP for each IP family"))
	}
	if len(ips) == 0 || ips[0] == corev1.ClusterIPNone {
		return errs
	}
	for i, ip := range ips {
		if i >= len(spec.IPFamilies) {
			break
		}
		switch f := spec.IPFamilies[i]; {
		case f == corev1.IPv4Protocol && isIPv6(ip):
			errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
		case f == corev1.IPv6Protocol && !isIPv6(ip):
			errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
		}
	}
	return errs
}

func isIPv6(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Is6() && !a.Is4In6()
}

// takeNodePorts finds the first requested node port the allocator could not take. Ports
// with the same number share a node port (TCP and UDP of one port), as kube's allocator lets
// them.
func takeNodePorts(spec *corev1.ServiceSpec) *field.Error {
	taken := map[int32]bool{}
	byPort := map[int32]int32{}
	take := func(i int, np int32) *field.Error {
		p := specPath.Child("ports").Index(i).Child("nodePort")
		switch {
		case np < NodePortMin || np > NodePortMax:
			return field.Invalid(p, np, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax))
		case taken[np]:
			return field.Invalid(p, np, "provided port is already allocated")
		}
		taken[np] = true
		return nil
	}
	for i, sp := range spec.Ports {
		if sp.NodePort == 0 {
			continue // one is picked from the free ones later
		}
		have, ok := byPort[sp.Port]
		if ok && have == sp.NodePort {
			continue
		}
		if !ok {
			// The port's node port is the first one requested for its number.
			for _, other := range spec.Ports {
				if other.Port == sp.Port && other.NodePort != 0 {
					have = other.NodePort
					break
				}
			}
			byPort[sp.Port] = have
			if e := take(i, have); e != nil {
				return e
			}
			if have == sp.NodePort {
				continue
			}
		}
		if e := take(i, sp.NodePort); e != nil {
			return e
		}
	}
	return nil
}
