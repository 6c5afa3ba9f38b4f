package validation

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of kube-apiserver's autoscaling validation.
const (
	maxStabilizationWindowSeconds = 3600
	maxPeriodSeconds              = 1800
)

// validateHPA checks a HorizontalPodAutoscaler as kube-apiserver's autoscaling validation.
func validateHPA(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	errs := objectMeta(&h.ObjectMeta, true, nameIsDNSSubdomain)
	spec := field.NewPath("spec")
	if m := h.Spec.MinReplicas; m != nil && *m < 1 {
		errs = append(errs, field.Invalid(spec.Child("minReplicas"), *m, "must be greater than or equal to 1"))
	}
	if h.Spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas, "must be greater than 0"))
	}
	if m := h.Spec.MinReplicas; m != nil && h.Spec.MaxReplicas < *m {
		errs = append(errs, field.Invalid(spec.Child("maxReplicas"), h.Spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, scaleTargetRef(h.Spec.ScaleTargetRef, spec.Child("scaleTargetRef"))...)
	for i, m := range h.Spec.Metrics {
		errs = append(errs, metricSpec(m, spec.Child("metrics").Index(i))...)
	}
	if b := h.Spec.Behavior; b != nil {
		errs = append(errs, scalingRules(b.ScaleUp, spec.Child("behavior", "scaleUp"))...)
		errs = append(errs, scalingRules(b.ScaleDown, spec.Child("behavior", "scaleDown"))...)
	}
	return errs
}

func validateHPAUpdate(h, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	return append(metaUpdate(&h.ObjectMeta, &old.ObjectMeta), validateHPA(h)...)
}

func scaleTargetRef(ref autoscalingv2.CrossVersionObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"kind", ref.Kind}, {"name", ref.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	return errs
}

var metricSourceTypes = []string{"ContainerResource", "External", "Object", "Pods", "Resource"}

func metricSpec(m autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	if m.Type == "" {
		return field.ErrorList{field.Required(p.Child("type"), "must specify a metric source type")}
	}
	set := map[autoscalingv2.MetricSourceType]bool{
		autoscalingv2.ObjectMetricSourceType: m.Object != nil, autoscalingv2.PodsMetricSourceType: m.Pods != nil,
		autoscalingv2.ResourceMetricSourceType: m.Resource != nil, autoscalingv2.ContainerResourceMetricSourceType: m.ContainerResource != nil,
		autoscalingv2.ExternalMetricSourceType: m.External != nil,
	}
	given, known := set[m.Type]
	switch {
	case !known:
		return field.ErrorList{field.NotSupported(p.Child("type"), m.Type, metricSourceTypes)}
	case !given:
		return field.ErrorList{field.Required(p.Child(lowerFirst(string(m.Type))), "must populate information for the given metric source")}
	}
	for t, ok := range set {
		if ok && t != m.Type {
			return field.ErrorList{field.Forbidden(p.Child(lowerFirst(string(t))), "must populate the given metric source only")}
		}
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		return resourceSource(string(m.Resource.Name), m.Resource.Target, p.Child("resource"))
	case autoscalingv2.ContainerResourceMetricSourceType:
		errs := resourceSource(string(m.ContainerResource.Name), m.ContainerResource.Target, p.Child("containerResource"))
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(p.Child("containerResource", "container"), "must specify a container"))
		}
		return errs
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

func resourceSource(name string, t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, metricTarget(t, p.Child("target"))...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func metricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch t.Type {
	case "":
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func scalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
	} else if w != nil && *w > maxStabilizationWindowSeconds {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
	}
	if s := r.SelectPolicy; s != nil && *s != autoscalingv2.MaxChangePolicySelect && *s != autoscalingv2.MinChangePolicySelect && *s != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *s, []string{"Disabled", "Max", "Min"}))
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, []string{"Percent", "Pods"}))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		} else if pol.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", maxPeriodSeconds)))
		}
	}
	return errs
}
