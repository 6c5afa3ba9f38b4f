package validation

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateResourceQuota follows kube's ValidateResourceQuota: known scopes and
// non-negative amounts in hard (and in status, which the controller writes).
func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	errs := objectMeta(&q.ObjectMeta, true, nameIsDNSSubdomain)
	spec := field.NewPath("spec")
	errs = append(errs, quantities(q.Spec.Hard, spec.Child("hard"))...)
	errs = append(errs, quantities(q.Status.Hard, field.NewPath("status", "hard"))...)
	errs = append(errs, quantities(q.Status.Used, field.NewPath("status", "used"))...)
	known := []string{string(corev1.ResourceQuotaScopeTerminating), string(corev1.ResourceQuotaScopeNotTerminating),
		string(corev1.ResourceQuotaScopeBestEffort), string(corev1.ResourceQuotaScopeNotBestEffort),
		string(corev1.ResourceQuotaScopePriorityClass), string(corev1.ResourceQuotaScopeCrossNamespacePodAffinity)}
	for i, s := range q.Spec.Scopes {
		if !contains(known, string(s)) {
			errs = append(errs, field.NotSupported(spec.Child("scopes").Index(i), s, known))
		}
	}
	return errs
}

func quantities(list corev1.ResourceList, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range list {
		p := path.Key(string(name))
		if name == "" {
			errs = append(errs, field.Required(p, ""))
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// validateLimitRange follows kube's ValidateLimitRange: each item's type, no defaults on
// a Pod item, and min <= defaultRequest <= default <= max with kube's messages.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	errs := objectMeta(&lr.ObjectMeta, true, nameIsDNSSubdomain)
	for i := range lr.Spec.Limits {
		errs = append(errs, limitRangeItem(&lr.Spec.Limits[i], field.NewPath("spec", "limits").Index(i))...)
	}
	return errs
}

func limitRangeItem(it *corev1.LimitRangeItem, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	types := []string{string(corev1.LimitTypePod), string(corev1.LimitTypeContainer), string(corev1.LimitTypePersistentVolumeClaim)}
	if !contains(types, string(it.Type)) {
		errs = append(errs, field.NotSupported(p.Child("type"), it.Type, types))
	}
	if it.Type == corev1.LimitTypePod {
		if len(it.Default) > 0 {
			errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
		if len(it.DefaultRequest) > 0 {
			errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
		}
	}
	for _, l := range []struct {
		list corev1.ResourceList
		name string
	}{{it.Max, "max"}, {it.Min, "min"}, {it.Default, "default"}, {it.DefaultRequest, "defaultRequest"}, {it.MaxLimitRequestRatio, "maxLimitRequestRatio"}} {
		errs = append(errs, quantities(l.list, p.Child(l.name))...)
	}
	for k, q := range it.Min {
		if mx, ok := it.Max[k]; ok && q.Cmp(mx) > 0 {
			errs = append(errs, field.Invalid(p.Child("min").Key(string(k)), q.String(), fmt.Sprintf("min value %s is greater than max value %s", q.String(), mx.String())))
		}
	}
	errs = append(errs, between(it.DefaultRequest, it, p.Child("defaultRequest"), "default request")...)
	errs = append(errs, between(it.Default, it, p.Child("default"), "default")...)
	for k, q := range it.DefaultRequest {
		if d, ok := it.Default[k]; ok && q.Cmp(d) > 0 {
			errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(k)), q.String(), "default request value must be less than or equal to default limit value"))
		}
	}
	for k, q := range it.MaxLimitRequestRatio {
		if q.Cmp(resource.MustParse("1")) < 0 {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(k)), q.String(), fmt.Sprintf("ratio %s is less than 1", q.String())))
		}
	}
	return errs
}

func between(list corev1.ResourceList, it *corev1.LimitRangeItem, p *field.Path, what string) field.ErrorList {
	var errs field.ErrorList
	for k, q := range list {
		if mn, ok := it.Min[k]; ok && q.Cmp(mn) < 0 {
			errs = append(errs, field.Invalid(p.Key(string(k)), q.String(), what+" value must be greater than or equal to min value"))
		}
		if mx, ok := it.Max[k]; ok && q.Cmp(mx) > 0 {
			errs = append(errs, field.Invalid(p.Key(string(k)), q.String(), what+" value must be less than or equal to max value"))
		}
	}
	return errs
}

// System classes: their names are reserved with these values (kube's
// SystemPriorityClasses); a user's class may go up to HighestUserDefinablePriority.
var systemPriorities = map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

const highestUserDefinablePriority = 1000000000

// validatePriorityClass follows kube's ValidatePriorityClass.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	errs := objectMeta(&pc.ObjectMeta, false, nameIsDNSSubdomain)
	if strings.HasPrefix(pc.Name, "system-") {
		want, known := systemPriorities[pc.Name]
		var why string
		switch {
		case !known:
			why = fmt.Sprintf("%v is not a known system priority class", pc.Name)
		case pc.Value != want:
			why = fmt.Sprintf("value of %v PriorityClass must be %v", pc.Name, want)
		case pc.GlobalDefault:
			why = fmt.Sprintf("globalDefault of %v PriorityClass must be false", pc.Name)
		}
		if why != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with 'system-' prefix are reserved for system use only. error: "+why))
		}
	} else if pc.Value > highestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if p := pc.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, []string{string(corev1.PreemptLowerPriority), string(corev1.PreemptNever)}))
	}
	return errs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	errs := metaUpdate(&pc.ObjectMeta, &old.ObjectMeta)
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	return errs
}

// validatePDB follows kube's ValidatePodDisruptionBudget.
func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := objectMeta(&pdb.ObjectMeta, true, nameIsDNSSubdomain)
	spec := field.NewPath("spec")
	if pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(spec, pdb.Spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, v := range []struct {
		val  *intstr.IntOrString
		name string
	}{{pdb.Spec.MinAvailable, "minAvailable"}, {pdb.Spec.MaxUnavailable, "maxUnavailable"}} {
		if v.val != nil {
			errs = append(errs, intOrPercent(*v.val, spec.Child(v.name))...)
		}
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(pdb.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))...)
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p != policyv1.IfHealthyBudget && *p != policyv1.AlwaysAllow {
		errs = append(errs, field.NotSupported(spec.Child("unhealthyPodEvictionPolicy"), *p, []string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}))
	}
	return errs
}

func intOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v.Type == intstr.String {
		n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		if !strings.HasSuffix(v.StrVal, "%") || err != nil {
			return field.ErrorList{field.Invalid(p, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")}
		}
		if n < 0 {
			errs = append(errs, field.Invalid(p, v.StrVal, "must be greater than or equal to 0"))
		}
		if n > 100 {
			errs = append(errs, field.Invalid(p, v.StrVal, "must not be greater than 100%"))
		}
		return errs
	}
	if v.IntVal < 0 {
		errs = append(errs, field.Invalid(p, v.IntVal, "must be greater than or equal to 0"))
	}
	return errs
}
