package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePodPolicies checks the pod spec's scheduling and runtime choices, each by the
// rule kube-apiserver applies to it.
func validatePodPolicies(spec *corev1.PodSpec, lp lazyPath) field.ErrorList {
	var errs field.ErrorList
	// Both name objects (a PriorityClass, a RuntimeClass) that need not exist yet.
	if spec.PriorityClassName != "" {
		errs = append(errs, nameMsgs(spec.PriorityClassName, apivalidation.NameIsDNSSubdomain, lp.child("priorityClassName").path())...)
	}
	if spec.RuntimeClassName != nil {
		errs = append(errs, nameMsgs(*spec.RuntimeClassName, apivalidation.NameIsDNSSubdomain, lp.child("runtimeClassName").path())...)
	}
	// Every pod has one (admission sets it): its path is made only for an error.
	if p := spec.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, oneOf(string(*p), lp.child("preemptionPolicy").path(), string(corev1.PreemptLowerPriority), string(corev1.PreemptNever))...)
	}
	if len(spec.ReadinessGates) == 0 && len(spec.SchedulingGates) == 0 && spec.Overhead == nil && len(spec.TopologySpreadConstraints) == 0 {
		return errs // the usual pod, without making its path
	}
	path := lp.path()
	for i, g := range spec.ReadinessGates {
		errs = append(errs, qualifiedName(string(g.ConditionType), path.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	seen := sets.New[string]()
	for i, g := range spec.SchedulingGates {
		p := path.Child("schedulingGates").Index(i)
		errs = append(errs, qualifiedName(g.Name, p)...)
		if seen.Has(g.Name) {
			errs = append(errs, field.Duplicate(p, g.Name))
		}
		seen.Insert(g.Name)
	}
	if spec.Overhead != nil {
		errs = append(errs, validateResources(&corev1.ResourceRequirements{Limits: spec.Overhead}, lp.child("overhead"))...)
	}
	errs = append(errs, validateSpread(spec.TopologySpreadConstraints, path.Child("topologySpreadConstraints"))...)
	return errs
}

// validateDNSConfig: dnsPolicy None needs a dnsConfig with a nameserver; searches are
// domain names (a trailing dot allowed), options are named.
func validateDNSConfig(spec *corev1.PodSpec, lp lazyPath) field.ErrorList {
	c := spec.DNSConfig
	if spec.DNSPolicy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(lp.path(), fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone))}
		}
		if len(c.Nameservers) == 0 {
			return field.ErrorList{field.Required(lp.child("nameservers").path(), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone))}
		}
	}
	if c == nil {
		return nil
	}
	path := lp.path()
	var errs field.ErrorList
	if len(c.Nameservers) > 3 {
		errs = append(errs, field.Invalid(path.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, utilvalidation.IsValidIP(path.Child("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > 32 {
		errs = append(errs, field.Invalid(path.Child("searches"), c.Searches, "must not have more than 32 search paths"))
	}
	if len(strings.Join(c.Searches, " ")) > 2048 {
		errs = append(errs, field.Invalid(path.Child("searches"), c.Searches, "must not have more than 2048 characters (including spaces) in the search list"))
	}
	for i, s := range c.Searches {
		errs = append(errs, dns1123Subdomain(strings.TrimSuffix(s, "."), path.Child("searches").Index(i))...)
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(path.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// validateSpread checks topologySpreadConstraints as the scheduler needs them.
func validateSpread(cs []corev1.TopologySpreadConstraint, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range cs {
		p := path.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
		}
		errs = append(errs, enum(string(c.WhenUnsatisfiable), p.Child("whenUnsatisfiable"), string(corev1.DoNotSchedule), string(corev1.ScheduleAnyway))...)
		for _, later := range cs[i+1:] {
			if later.TopologyKey == c.TopologyKey && later.WhenUnsatisfiable == c.WhenUnsatisfiable {
				errs = append(errs, field.Duplicate(p.Child("{topologyKey, whenUnsatisfiable}"), fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if c.MinDomains != nil {
			if *c.MinDomains <= 0 {
				errs = append(errs, field.Invalid(p.Child("minDomains"), c.MinDomains, "must be greater than zero"))
			}
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				errs = append(errs, field.Invalid(p.Child("minDomains"), c.MinDomains, fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		// In kube-apiserver's order: affinity, then taints.
		for _, pol := range []struct {
			name string
			p    *corev1.NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if pol.p != nil {
				errs = append(errs, enum(string(*pol.p), p.Child(pol.name), string(corev1.NodeInclusionPolicyHonor), string(corev1.NodeInclusionPolicyIgnore))...)
			}
		}
		errs = append(errs, matchLabelKeys(c, p.Child("matchLabelKeys"))...)
		errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, p.Child("labelSelector"))...)
	}
	return errs
}

// matchLabelKeys are label names that are not also in the constraint's selector.
func matchLabelKeys(c corev1.TopologySpreadConstraint, path *field.Path) field.ErrorList {
	if len(c.MatchLabelKeys) == 0 {
		return nil
	}
	var errs field.ErrorList
	inSelector := sets.New[string]()
	if c.LabelSelector == nil {
		errs = append(errs, field.Forbidden(path, "must not be specified when labelSelector is not set"))
	} else {
		for k := range c.LabelSelector.MatchLabels {
			inSelector.Insert(k)
		}
		for _, e := range c.LabelSelector.MatchExpressions {
			inSelector.Insert(e.Key)
		}
	}
	for i, k := range c.MatchLabelKeys {
		errs = append(errs, metav1validation.ValidateLabelName(k, path.Index(i))...)
		if inSelector.Has(k) {
			errs = append(errs, field.Invalid(path.Index(i), k, "exists in both matchLabelKeys and labelSelector"))
		}
	}
	return errs
}

// validateSeccomp: a profile has a known type; only Localhost names a file, relative and
// inside the kubelet's seccomp directory.
func validateSeccomp(sp *corev1.SeccompProfile, path *field.Path) field.ErrorList {
	if sp == nil {
		return nil
	}
	var errs field.ErrorList
	switch sp.Type {
	case corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(path.Child("type"), "type is required when seccompProfile is set"))
	default:
		errs = append(errs, field.NotSupported(path.Child("type"), sp.Type, []corev1.SeccompProfileType{
			corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}))
	}
	switch {
	case sp.Type == corev1.SeccompProfileTypeLocalhost && sp.LocalhostProfile == nil:
		errs = append(errs, field.Required(path.Child("localhostProfile"), "must be set when seccomp type is Localhost"))
	case sp.Type == corev1.SeccompProfileTypeLocalhost:
		errs = append(errs, localDescendingPath(*sp.LocalhostProfile, path.Child("localhostProfile"))...)
	case sp.LocalhostProfile != nil:
		errs = append(errs, field.Invalid(path.Child("localhostProfile"), sp, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

// validateAppArmor: like seccomp, only the Localhost type names a profile.
func validateAppArmor(ap *corev1.AppArmorProfile, path *field.Path) field.ErrorList {
	if ap == nil {
		return nil
	}
	lp := path.Child("localhostProfile")
	switch ap.Type {
	case corev1.AppArmorProfileTypeLocalhost:
		switch {
		case ap.LocalhostProfile == nil:
			return field.ErrorList{field.Required(lp, "must be set when AppArmor type is Localhost")}
		case strings.TrimSpace(*ap.LocalhostProfile) != *ap.LocalhostProfile:
			return field.ErrorList{field.Invalid(lp, *ap.LocalhostProfile, "must not be padded with whitespace")}
		case *ap.LocalhostProfile == "":
			return field.ErrorList{field.Required(lp, "must be set when AppArmor type is Localhost")}
		case len(*ap.LocalhostProfile) > 4095:
			return field.ErrorList{field.TooLong(lp, "", 4095)}
		}
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		if ap.LocalhostProfile != nil {
			return field.ErrorList{field.Invalid(lp, ap.LocalhostProfile, "can only be set when AppArmor type is Localhost")}
		}
	case "":
		return field.ErrorList{field.Required(path.Child("type"), "type is required when appArmorProfile is set")}
	default:
		return field.ErrorList{field.NotSupported(path.Child("type"), ap.Type, []corev1.AppArmorProfileType{
			corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined})}
	}
	return nil
}

// nameMsgs reports each of nameFn's complaints about name as an Invalid error.
func nameMsgs(name string, nameFn apivalidation.ValidateNameFunc, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range nameFn(name, false) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

func qualifiedName(v string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(v) {
		errs = append(errs, field.Invalid(path, v, msg))
	}
	return errs
}

// oneOf: v is required and must be one of valid.
func oneOf(v string, path *field.Path, valid ...string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	return enum(v, path, valid...)
}

// enum: v must be one of valid (empty included, for fields whose emptiness is checked
// elsewhere or is itself unsupported).
func enum(v string, path *field.Path, valid ...string) field.ErrorList {
	for _, ok := range valid {
		if v == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(path, v, valid)}
}
