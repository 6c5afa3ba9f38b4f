package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// StatefulSet, DaemonSet and ControllerRevision, as k8s.io/kubernetes/pkg/apis/apps/validation.

func validateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateStatefulSetSpec(&s.Spec)...)
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(specPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetStrategy(&spec.UpdateStrategy)...)
	errs = append(errs, validateClaimRetention(spec.PersistentVolumeClaimRetentionPolicy)...)
	errs = append(errs, validateReplicas(spec.Replicas)...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonNegative(int64(spec.Ordinals.Start), specPath.Child("ordinals.start"))...)
	}
	// kube-apiserver checks neither serviceName, revisionHistoryLimit nor the claim
	// templates of a new StatefulSet; the controller's creates refuse what is wrong there.
	errs = append(errs, selectorAndTemplate("statefulset", "StatefulSet", spec.Selector, &spec.Template, false)...)
	return errs
}

func validateStatefulSetStrategy(s *appsv1.StatefulSetUpdateStrategy) field.ErrorList {
	path := specPath.Child("updateStrategy")
	switch s.Type {
	case "":
		return field.ErrorList{field.Required(path, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(path.Child("rollingUpdate"), s.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType))}
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if s.RollingUpdate != nil && s.RollingUpdate.Partition != nil {
			return nonNegative(int64(*s.RollingUpdate.Partition), path.Child("rollingUpdate", "partition"))
		}
	default:
		return field.ErrorList{field.Invalid(path, s,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType))}
	}
	return nil
}

func validateClaimRetention(p *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy) field.ErrorList {
	if p == nil {
		return nil
	}
	path := specPath.Child("persistentVolumeClaimRetentionPolicy")
	ok := []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
	var errs field.ErrorList
	for name, v := range map[string]appsv1.PersistentVolumeClaimRetentionPolicyType{"whenDeleted": p.WhenDeleted, "whenScaled": p.WhenScaled} {
		if v != ok[0] && v != ok[1] {
			errs = append(errs, field.NotSupported(path.Child(name), v, ok))
		}
	}
	return errs
}

// validateStatefulSetUpdate: only replicas, ordinals, template, updateStrategy,
// revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds may change.
func validateStatefulSetUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	errs := metaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateStatefulSetSpec(&s.Spec)...)
	clone := s.Spec.DeepCopy()
	clone.Replicas, clone.Ordinals, clone.Template = old.Spec.Replicas, old.Spec.Ordinals, old.Spec.Template
	clone.UpdateStrategy, clone.RevisionHistoryLimit = old.Spec.UpdateStrategy, old.Spec.RevisionHistoryLimit
	clone.PersistentVolumeClaimRetentionPolicy, clone.MinReadySeconds = old.Spec.PersistentVolumeClaimRetentionPolicy, old.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*clone, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func validateDaemonSet(d *appsv1.DaemonSet) field.ErrorList {
	errs := objectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateDaemonSetSpec(&d.Spec)...)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec) field.ErrorList {
	errs := daemonSetSelectorAndTemplate(spec.Selector, &spec.Template)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.RevisionHistoryLimit), specPath.Child("revisionHistoryLimit"))...)
	}
	path := specPath.Child("updateStrategy")
	switch s := spec.UpdateStrategy; s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return append(errs, field.Required(path.Child("rollingUpdate"), ""))
		}
		errs = append(errs, validateRollingUpdateDaemonSet(s.RollingUpdate, path.Child("rollingUpdate"))...)
	default:
		errs = append(errs, field.NotSupported(path, s, []appsv1.DaemonSetUpdateStrategyType{
			appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}))
	}
	return errs
}

// daemonSetSelectorAndTemplate: unlike the other pod controllers, a DaemonSet without a
// selector is told that its selector does not match the template.
func daemonSetSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec) field.ErrorList {
	selPath, tPath := specPath.Child("selector"), specPath.Child("template")
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)
	if selector, err := metav1.LabelSelectorAsSelector(sel); err == nil && !selector.Matches(k8slabels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	if sel != nil && len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, validatePodTemplateSpec(t, tPath)...)
	return append(errs, runsForever("DaemonSet", t, tPath)...)
}

// validateRollingUpdateDaemonSet: exactly one of maxUnavailable and maxSurge is non-zero.
func validateRollingUpdateDaemonSet(ru *appsv1.RollingUpdateDaemonSet, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	unavail, surge := path.Child("maxUnavailable"), path.Child("maxSurge")
	errs = append(errs, positiveIntOrPercent(ru.MaxUnavailable, unavail)...)
	errs = append(errs, positiveIntOrPercent(ru.MaxSurge, surge)...)
	errs = append(errs, notOver100Percent(ru.MaxUnavailable, unavail)...)
	errs = append(errs, notOver100Percent(ru.MaxSurge, surge)...)
	hasUnavail, hasSurge := intOrPercentValue(ru.MaxUnavailable) != 0, intOrPercentValue(ru.MaxSurge) != 0
	switch {
	case hasUnavail && hasSurge:
		errs = append(errs, field.Invalid(surge, valueOf(ru.MaxSurge), "may not be set when maxUnavailable is non-zero"))
	case !hasUnavail && !hasSurge:
		errs = append(errs, field.Required(unavail, "cannot be 0 when maxSurge is 0"))
	}
	return errs
}

func notOver100Percent(v *intstr.IntOrString, path *field.Path) field.ErrorList {
	if v != nil && v.Type == intstr.String && intOrPercentValue(v) > 100 {
		return field.ErrorList{field.Invalid(path, v.StrVal, "must not be greater than 100%")}
	}
	return nil
}

func validateDaemonSetUpdate(d, old *appsv1.DaemonSet) field.ErrorList {
	errs := metaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateDaemonSetSpec(&d.Spec)...)
	return append(errs, apivalidation.ValidateImmutableField(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateControllerRevision(r *appsv1.ControllerRevision) field.ErrorList {
	errs := objectMeta(&r.ObjectMeta, true, nameIsDNSSubdomain)
	if len(r.Data.Raw) == 0 && r.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, nonNegative(r.Revision, field.NewPath("revision"))...)
}

func validateControllerRevisionUpdate(r, old *appsv1.ControllerRevision) field.ErrorList {
	errs := metaUpdate(&r.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateControllerRevision(r)...)
	return append(errs, apivalidation.ValidateImmutableField(r.Data, old.Data, field.NewPath("data"))...)
}
