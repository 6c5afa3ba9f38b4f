package validation

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMeta(&rs.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateReplicaSetSpec(&rs.Spec)...)
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateReplicas(spec.Replicas)...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template)...)
	return errs
}

func validateReplicas(r *int32) field.ErrorList {
	if r == nil {
		return field.ErrorList{field.Required(specPath.Child("replicas"), "")}
	}
	return nonNegative(int64(*r), specPath.Child("replicas"))
}

// validateSelectorAndTemplate holds what ReplicaSets and Deployments share: a non-empty
// selector that the template's labels satisfy, and a template whose pods restart Always.
func validateSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec) field.ErrorList {
	// kube-apiserver says "deployment" and "ReplicaSet" for both.
	return selectorAndTemplate("deployment", "ReplicaSet", sel, t, true)
}

// selectorAndTemplate is the check ReplicaSets, Deployments and StatefulSets get: a
// required, valid, non-empty selector that the template's labels satisfy, and a template
// whose pods restart Always. kind and Kind name it in the messages as kube-apiserver does.
// A StatefulSet's pod spec is not validated here: kube-apiserver checks only its template's
// metadata (the pods are refused when the controller creates them), so podSpec is false.
func selectorAndTemplate(kind, Kind string, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, podSpec bool) field.ErrorList {
	var errs field.ErrorList
	selPath := specPath.Child("selector")
	if sel == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for "+kind))
		}
	}
	tPath := specPath.Child("template")
	selector, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil && podSpec:
		return append(errs, field.Invalid(selPath, sel, "invalid label selector"))
	case err != nil:
		errs = append(errs, field.Invalid(selPath, sel, ""))
	default:
		if !selector.Empty() && !selector.Matches(k8slabels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
		if podSpec {
			errs = append(errs, validatePodTemplateSpec(t, tPath)...)
		} else {
			errs = append(errs, validateTemplateMeta(t, tPath)...)
		}
	}
	return append(errs, runsForever(Kind, t, tPath)...)
}

// runsForever: the pods of ReplicaSets, Deployments, StatefulSets and DaemonSets are
// restarted always and have no deadline.
func runsForever(Kind string, t *corev1.PodTemplateSpec, tPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+Kind+" is not Supported"))
	}
	return errs
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := metaUpdate(&rs.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateReplicaSetSpec(&rs.Spec)...)
	errs = append(errs, apivalidation.ValidateImmutableField(rs.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	return errs
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := objectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateDeploymentSpec(&d.Spec)...)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateReplicas(spec.Replicas)...)
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template)...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	if p := spec.ProgressDeadlineSeconds; p != nil {
		errs = append(errs, nonNegative(int64(*p), specPath.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, path *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(path.Child("rollingUpdate"), fmt.Sprintf("may not be specified when strategy `type` is '%s'", appsv1.RecreateDeploymentStrategyType))}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(path.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdate(s.RollingUpdate, path.Child("rollingUpdate"))
	case "":
		return field.ErrorList{field.Required(path.Child("type"), "")}
	}
	return field.ErrorList{field.NotSupported(path, s.Type, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
}

func validateRollingUpdate(ru *appsv1.RollingUpdateDeployment, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	unavailPath, surgePath := path.Child("maxUnavailable"), path.Child("maxSurge")
	errs = append(errs, positiveIntOrPercent(ru.MaxUnavailable, unavailPath)...)
	errs = append(errs, positiveIntOrPercent(ru.MaxSurge, surgePath)...)
	if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
		errs = append(errs, field.Invalid(unavailPath, valueOf(ru.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
	}
	if ru.MaxUnavailable != nil && ru.MaxUnavailable.Type == intstr.String && intOrPercentValue(ru.MaxUnavailable) > 100 {
		errs = append(errs, field.Invalid(unavailPath, ru.MaxUnavailable.StrVal, "must not be greater than 100%"))
	}
	return errs
}

func positiveIntOrPercent(v *intstr.IntOrString, path *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		if len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
			return field.ErrorList{field.Invalid(path, v.StrVal, "must be an integer or percentage (e.g '5%')")}
		}
		return nonNegative(int64(intOrPercentValue(v)), path)
	}
	return nonNegative(int64(v.IntValue()), path)
}

func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.String {
		n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		if err != nil {
			return 0
		}
		return n
	}
	return v.IntValue()
}

func valueOf(v *intstr.IntOrString) interface{} {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		return v.StrVal
	}
	return v.IntValue()
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := metaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateDeploymentSpec(&d.Spec)...)
	errs = append(errs, apivalidation.ValidateImmutableField(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	return errs
}
