package validation

import (
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A Job's podFailurePolicy, successPolicy and per-index back-off limits, checked as
// kube-apiserver's pkg/apis/batch/validation (v1.32).

const (
	maxPodFailurePolicyRules      = 20
	maxOnExitCodesValues          = 255
	maxOnPodConditionsPatterns    = 20
	msgBothExitCodesAndConditions = "specifying both OnExitCodes and OnPodConditions is not supported"
	msgOneOfExitCodesOrConditions = "specifying one of OnExitCodes and OnPodConditions is required"

	maxSuccessPolicyRules            = 20
	maxSucceededIndexesLength        = 64 * 1024
	maxFailedIndexes                 = 100_000
	completionsSoftLimit             = 100_000
	parallelismForHighCompletions    = 10_000
	maxFailedIndexesHighCompletions  = 10_000
	msgRequiresIndexedCompletionMode = "requires indexed completion mode"
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

// validatePerIndexLimits checks backoffLimitPerIndex and maxFailedIndexes: Indexed Jobs only,
// maxFailedIndexes at most completions (and bounded for very large Jobs).
func validatePerIndexLimits(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	perIndex, maxFailed := spec.BackoffLimitPerIndex, spec.MaxFailedIndexes
	errs := nonNegativeFields(path, []namedInt32{{"backoffLimitPerIndex", perIndex}, {"maxFailedIndexes", maxFailed}})
	if maxFailed != nil && perIndex == nil {
		errs = append(errs, field.Required(path.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if spec.CompletionMode == nil || *spec.CompletionMode == batchv1.NonIndexedCompletion {
		if perIndex != nil {
			errs = append(errs, field.Invalid(path.Child("backoffLimitPerIndex"), *perIndex, msgRequiresIndexedCompletionMode))
		}
		if maxFailed != nil {
			errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *maxFailed, msgRequiresIndexedCompletionMode))
		}
		return errs
	}
	if *spec.CompletionMode != batchv1.IndexedCompletion {
		return errs
	}
	completions := spec.Completions
	if completions != nil && maxFailed != nil && *maxFailed > *completions {
		errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *maxFailed, "must be less than or equal to completions"))
	}
	if maxFailed != nil && *maxFailed > maxFailedIndexes {
		errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *maxFailed, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexes)))
	}
	if completions == nil || *completions <= completionsSoftLimit || perIndex == nil {
		return errs
	}
	high := fmt.Sprintf("when completions are above %d and used with backoff limit per index", completionsSoftLimit)
	if maxFailed == nil {
		errs = append(errs, field.Required(path.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
	}
	if p := spec.Parallelism; p != nil && *p > parallelismForHighCompletions {
		errs = append(errs, field.Invalid(path.Child("parallelism"), *p, fmt.Sprintf("must be less than or equal to %d %s", parallelismForHighCompletions, high)))
	}
	if maxFailed != nil && *maxFailed > maxFailedIndexesHighCompletions {
		errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *maxFailed, fmt.Sprintf("must be less than or equal to %d %s", maxFailedIndexesHighCompletions, high)))
	}
	return errs
}

// validateSuccessPolicy checks an Indexed Job's successPolicy rules.
func validateSuccessPolicy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		return field.ErrorList{field.Invalid(path, *spec.SuccessPolicy, msgRequiresIndexedCompletionMode)}
	}
	var errs field.ErrorList
	rulesPath := path.Child("rules")
	rules := spec.SuccessPolicy.Rules
	if len(rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	var completions int32
	if spec.Completions != nil {
		completions = *spec.Completions
	}
	for i, rule := range rules {
		errs = append(errs, validateSuccessPolicyRule(rule, completions, rulesPath.Index(i))...)
	}
	return errs
}

func validateSuccessPolicyRule(rule batchv1.SuccessPolicyRule, completions int32, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
		errs = append(errs, field.Required(path, "at least one of succeededCount or succeededIndexes must be specified"))
	}
	var total int32
	if rule.SucceededIndexes != nil {
		ixPath := path.Child("succeededIndexes")
		if len(*rule.SucceededIndexes) > maxSucceededIndexesLength {
			errs = append(errs, field.TooLong(ixPath, "", maxSucceededIndexesLength))
		}
		var err error
		if total, err = countIndexes(*rule.SucceededIndexes, completions); err != nil {
			errs = append(errs, field.Invalid(ixPath, *rule.SucceededIndexes, "error parsing succeededIndexes: "+err.Error()))
		}
	}
	if n := rule.SucceededCount; n != nil {
		countPath := path.Child("succeededCount")
		errs = append(errs, nonNegative(int64(*n), countPath)...)
		if *n > completions {
			errs = append(errs, field.Invalid(countPath, *n, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
		}
		if rule.SucceededIndexes != nil && *n > total {
			errs = append(errs, field.Invalid(countPath, *n, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
		}
	}
	return errs
}

// countIndexes reads an index list ("0,2-4") as kube-apiserver's validateIndexesFormat:
// intervals in increasing order, each below completions; it returns how many indexes it names.
func countIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for _, part := range strings.Split(s, ",") {
		first, end, err := indexInterval(part, completions)
		if err != nil {
			return 0, err
		}
		if last >= first {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, first)
		}
		total += end - first + 1
		last = end
	}
	return total, nil
}

func indexInterval(s string, completions int32) (int32, int32, error) {
	bounds := strings.Split(s, "-")
	if len(bounds) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	var ix [2]int32
	for i, b := range bounds {
		n, err := strconv.Atoi(b)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", b)
		}
		if n >= int(completions) {
			return 0, 0, fmt.Errorf("too large index: %q", b)
		}
		ix[i] = int32(n)
	}
	if len(bounds) == 1 {
		return ix[0], ix[0], nil
	}
	if ix[0] >= ix[1] {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", ix[0], ix[1])
	}
	return ix[0], ix[1], nil
}
