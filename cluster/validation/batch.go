package validation

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // timeZone names must resolve even on hosts without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages and paths follow kube-apiserver's pkg/apis/batch/validation.

func validateJob(job *batchv1.Job) field.ErrorList {
	errs := objectMeta(jobMetaAtCreate(job), true, nameIsDNSSubdomain)
	errs = append(errs, validateGeneratedSelector(job)...)
	errs = append(errs, validateJobSpec(&job.Spec, specPath, true)...)
	return errs
}

// validateGeneratedSelector refuses template labels that would break the selector the
// API server generated from the Job's UID (manualSelector not set).
func validateGeneratedSelector(job *batchv1.Job) field.ErrorList {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector || job.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(metadataPath.Child("uid"), ""))
	}
	want := k8slabels.Set{batchv1.ControllerUidLabel: string(job.UID), "controller-uid": string(job.UID)}
	if !k8slabels.SelectorFromSet(want).Matches(k8slabels.Set(job.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), job.Spec.Template.Labels, "`selector` not auto-generated"))
	}
	// A selector the user wrote (without manualSelector: true) selects more than the
	// generated labels: refused, as it could match another Job's pods.
	want[batchv1.JobNameLabel], want["job-name"] = job.Name, job.Name
	if sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !sel.Matches(want) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec checks a Job's spec, or (needSelector false) a CronJob's job template.
func validateJobSpec(spec *batchv1.JobSpec, path *field.Path, needSelector bool) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegativeFields(path, []namedInt32{{"parallelism", spec.Parallelism},
		{"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished}})...)
	if d := spec.ActiveDeadlineSeconds; d != nil {
		errs = append(errs, nonNegative(*d, path.Child("activeDeadlineSeconds"))...)
	}
	errs = append(errs, validateCompletionMode(spec, path)...)
	errs = append(errs, validatePerIndexLimits(spec, path)...)
	if spec.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(spec, path.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		errs = append(errs, validateSuccessPolicy(spec, path.Child("successPolicy"))...)
	}
	errs = append(errs, jobManagedBy(spec, path)...)
	errs = append(errs, jobPodReplacementPolicy(spec, path)...)
	errs = append(errs, validateJobSelector(spec, path, needSelector)...)
	tPath := path.Child("template")
	errs = append(errs, validatePodTemplateSpec(&spec.Template, tPath)...)
	switch p := spec.Template.Spec.RestartPolicy; p {
	case corev1.RestartPolicyNever:
	case corev1.RestartPolicyOnFailure:
		if spec.PodFailurePolicy != nil {
			errs = append(errs, field.Invalid(tPath.Child("spec", "restartPolicy"), p, `only "Never" is supported when podFailurePolicy is specified`))
		}
	case corev1.RestartPolicyAlways, "":
		// Always is what a pod gets by default: the Job's author must choose.
		errs = append(errs, field.Required(tPath.Child("spec", "restartPolicy"),
			fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	default:
		errs = append(errs, field.NotSupported(tPath.Child("spec", "restartPolicy"), p,
			[]corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	return errs
}

// maxParallelismForIndexedJob is kube-apiserver's bound on an Indexed Job's parallelism.
const maxParallelismForIndexedJob = 100000

func validateCompletionMode(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	m := spec.CompletionMode
	if m == nil {
		return nil
	}
	if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		return field.ErrorList{field.NotSupported(path.Child("completionMode"), *m,
			[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion})}
	}
	var errs field.ErrorList
	if *m == batchv1.IndexedCompletion {
		if spec.Completions == nil {
			errs = append(errs, field.Required(path.Child("completions"), "when completion mode is Indexed"))
		}
		if p := spec.Parallelism; p != nil && *p > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(path.Child("parallelism"), *p, "must be less than or equal to 100000 when completion mode is Indexed"))
		}
	}
	return errs
}

func validateJobSelector(spec *batchv1.JobSpec, path *field.Path, needSelector bool) field.ErrorList {
	selPath := path.Child("selector")
	switch {
	case !needSelector && spec.Selector != nil:
		// A CronJob's Jobs get their selector generated, as any Job without manualSelector.
		return field.ErrorList{field.Invalid(selPath, spec.Selector, "`selector` will be auto-generated")}
	case !needSelector:
		return nil
	case spec.Selector == nil:
		return field.ErrorList{field.Required(selPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath)
	// A selector that does not parse has its errors already.
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(k8slabels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func validateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := metaUpdate(&job.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateJobSpec(&job.Spec, specPath, true)...)
	for _, f := range []struct {
		name     string
		new, old any
	}{
		{"selector", job.Spec.Selector, old.Spec.Selector},
		{"template", job.Spec.Template, old.Spec.Template},
		{"completions", job.Spec.Completions, old.Spec.Completions},
		{"completionMode", job.Spec.CompletionMode, old.Spec.CompletionMode},
		{"backoffLimitPerIndex", job.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex},
		{"successPolicy", job.Spec.SuccessPolicy, old.Spec.SuccessPolicy},
	} {
		errs = append(errs, apivalidation.ValidateImmutableField(f.new, f.old, specPath.Child(f.name))...)
	}
	return errs
}

// cronJobMaxNameLength leaves room for the 11 characters ("-" and a scheduled time in
// minutes) the controller appends to name a Job.
const cronJobMaxNameLength = 63 - 11

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	errs := objectMeta(&cj.ObjectMeta, true, nameIsDNSSubdomain)
	if len(cj.Name) > cronJobMaxNameLength {
		errs = append(errs, field.Invalid(metadataPath.Child("name"), cj.Name, "must be no more than 52 characters"))
	}
	return append(errs, validateCronJobSpec(&cj.Spec)...)
}

func validateCronJobSpec(spec *batchv1.CronJobSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSchedule(spec.Schedule, spec.TimeZone, specPath.Child("schedule"))...)
	errs = append(errs, validateTimeZone(spec.TimeZone, specPath.Child("timeZone"))...)
	if d := spec.StartingDeadlineSeconds; d != nil {
		errs = append(errs, nonNegative(*d, specPath.Child("startingDeadlineSeconds"))...)
	}
	switch spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(specPath.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("concurrencyPolicy"), spec.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	errs = append(errs, nonNegativeFields(specPath, []namedInt32{
		{"successfulJobsHistoryLimit", spec.SuccessfulJobsHistoryLimit},
		{"failedJobsHistoryLimit", spec.FailedJobsHistoryLimit}})...)
	tPath := specPath.Child("jobTemplate")
	// kube-apiserver does not check the job template's own metadata.
	jPath := tPath.Child("spec")
	if m := spec.JobTemplate.Spec.ManualSelector; m != nil && *m {
		errs = append(errs, field.NotSupported(jPath.Child("manualSelector"), *m, []string{"nil", "false"}))
	}
	return append(errs, validateJobSpec(&spec.JobTemplate.Spec, jPath, false)...)
}

func validateSchedule(schedule string, tz *string, path *field.Path) field.ErrorList {
	if schedule == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	if strings.Contains(schedule, "TZ") {
		msg := "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
		if tz != nil {
			msg = "cannot use both timeZone field and TZ or CRON_TZ in schedule"
		}
		return field.ErrorList{field.Invalid(path, schedule, msg)}
	}
	if _, err := cron.ParseStandard(schedule); err != nil {
		return field.ErrorList{field.Invalid(path, schedule, err.Error())}
	}
	return nil
}

func validateTimeZone(tz *string, path *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(path, *tz, "timeZone must be nil or non-empty string")}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(path, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(path, *tz, err.Error())}
	}
	return nil
}

func validateCronJobUpdate(cj, old *batchv1.CronJob) field.ErrorList {
	errs := metaUpdate(&cj.ObjectMeta, &old.ObjectMeta)
	return append(errs, validateCronJobSpec(&cj.Spec)...)
}

type namedInt32 struct {
	name string
	v    *int32
}

// nonNegativeFields checks optional counts in a fixed order, so errors come out stable.
func nonNegativeFields(path *field.Path, fs []namedInt32) field.ErrorList {
	var errs field.ErrorList
	for _, f := range fs {
		if f.v != nil {
			errs = append(errs, nonNegative(int64(*f.v), path.Child(f.name))...)
		}
	}
	return errs
}
