package validation

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A Job's podFailurePolicy, checked as kube-apiserver's validatePodFailurePolicy. FailIndex
// needs backoffLimitPerIndex, which webkube refuses, so it is refused with kube's message.

const (
	maxPodFailurePolicyRules      = 20
	maxOnExitCodesValues          = 255
	maxOnPodConditionsPatterns    = 20
	msgBothExitCodesAndConditions = "specifying both OnExitCodes and OnPodConditions is not supported"
	msgOneOfExitCodesOrConditions = "specifying one of OnExitCodes and OnPodConditions is required"
)

var (
	podFailureActions = sets.New(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailJob,
		batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionIgnore)
	exitCodeOperators = sets.New(batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn)
	conditionStatuses = sets.New(corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown)
)

func validatePodFailurePolicy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := path.Child("rules")
	if n := len(spec.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, n, maxPodFailurePolicyRules))
	}
	names := sets.New[string]()
	for _, c := range append(append([]corev1.Container(nil), spec.Template.Spec.Containers...), spec.Template.Spec.InitContainers...) {
		names.Insert(c.Name)
	}
	for i := range spec.PodFailurePolicy.Rules {
		errs = append(errs, validatePodFailureRule(spec, &spec.PodFailurePolicy.Rules[i], rulesPath.Index(i), names)...)
	}
	return errs
}

func validatePodFailureRule(spec *batchv1.JobSpec, rule *batchv1.PodFailurePolicyRule, path *field.Path, names sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	actionPath := path.Child("action")
	switch {
	case rule.Action == "":
		errs = append(errs, field.Required(actionPath, fmt.Sprintf("valid values: %q", sets.List(podFailureActions))))
	case rule.Action == batchv1.PodFailurePolicyActionFailIndex:
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(actionPath, rule.Action, "requires the backoffLimitPerIndex to be set"))
		}
	case !podFailureActions.Has(rule.Action):
		errs = append(errs, field.NotSupported(actionPath, rule.Action, sets.List(podFailureActions)))
	}
	if rule.OnExitCodes != nil {
		errs = append(errs, validateOnExitCodes(rule.OnExitCodes, path.Child("onExitCodes"), names)...)
	}
	if len(rule.OnPodConditions) > 0 {
		errs = append(errs, validateOnPodConditions(rule.OnPodConditions, path.Child("onPodConditions"))...)
	}
	if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
		errs = append(errs, field.Invalid(path, field.OmitValueType{}, msgBothExitCodesAndConditions))
	}
	if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
		errs = append(errs, field.Invalid(path, field.OmitValueType{}, msgOneOfExitCodesOrConditions))
	}
	return errs
}

func validateOnExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, path *field.Path, names sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	opPath := path.Child("operator")
	if req.Operator == "" {
		errs = append(errs, field.Required(opPath, fmt.Sprintf("valid values: %q", sets.List(exitCodeOperators))))
	} else if !exitCodeOperators.Has(req.Operator) {
		errs = append(errs, field.NotSupported(opPath, req.Operator, sets.List(exitCodeOperators)))
	}
	if req.ContainerName != nil && !names.Has(*req.ContainerName) {
		errs = append(errs, field.Invalid(path.Child("containerName"), *req.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	valuesPath := path.Child("values")
	if len(req.Values) == 0 {
		errs = append(errs, field.Invalid(valuesPath, req.Values, "at least one value is required"))
	} else if len(req.Values) > maxOnExitCodesValues {
		errs = append(errs, field.TooMany(valuesPath, len(req.Values), maxOnExitCodesValues))
	}
	ordered, seen := true, sets.New[int32]()
	for j, v := range req.Values {
		if req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(valuesPath.Index(j), v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			errs = append(errs, field.Duplicate(valuesPath.Index(j), v))
		}
		seen.Insert(v)
		if j > 0 && req.Values[j-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(valuesPath, req.Values, "must be ordered"))
	}
	return errs
}

func validateOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(patterns) > maxOnPodConditionsPatterns {
		errs = append(errs, field.TooMany(path, len(patterns), maxOnPodConditionsPatterns))
	}
	for j, pat := range patterns {
		p := path.Index(j)
		for _, msg := range utilvalidation.IsQualifiedName(string(pat.Type)) {
			errs = append(errs, field.Invalid(p.Child("type"), string(pat.Type), msg))
		}
		if pat.Status == "" {
			errs = append(errs, field.Required(p.Child("status"), fmt.Sprintf("valid values: %q", sets.List(conditionStatuses))))
		} else if !conditionStatuses.Has(pat.Status) {
			errs = append(errs, field.NotSupported(p.Child("status"), pat.Status, sets.List(conditionStatuses)))
		}
	}
	return errs
}
