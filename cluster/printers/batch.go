package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func init() {
	columns[schema.GroupResource{Group: "batch", Resource: "jobs"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Status", "string", "Status of the job."),
		col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		col("Duration", "string", "Time required to complete the job."),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	}
	columns[schema.GroupResource{Group: "batch", Resource: "cronjobs"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Schedule", "string", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]),
		col("Timezone", "string", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
		col("Suspend", "boolean", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]),
		col("Active", "integer", batchv1.CronJobStatus{}.SwaggerDoc()["active"]),
		col("Last Schedule", "string", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	}
}

// jobCells follows kubectl's printJob.
func jobCells(job *batchv1.Job, now time.Time) []interface{} {
	var completions string
	switch par := derefInt32(job.Spec.Parallelism); {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case par > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, par)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}
	var took string
	switch st := job.Status; {
	case st.StartTime == nil:
	case st.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(st.StartTime.Time))
	default:
		took = duration.HumanDuration(st.CompletionTime.Sub(st.StartTime.Time))
	}
	names, images := containersAndImages(job.Spec.Template.Spec.Containers)
	return []interface{}{job.Name, JobStatus(job), completions, took, age(job.CreationTimestamp, now),
		names, images, selectorOrNone(job.Spec.Selector)}
}

// JobStatus is the STATUS kubectl prints for a Job (the dashboard shows the same word).
func JobStatus(job *batchv1.Job) string {
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range job.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case has(batchv1.JobComplete):
		return "Complete"
	case has(batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case has(batchv1.JobSuspended):
		return "Suspended"
	case has(batchv1.JobFailureTarget):
		return "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

// cronJobCells follows kubectl's printCronJob.
func cronJobCells(cj *batchv1.CronJob, now time.Time) []interface{} {
	last := "<none>"
	if t := cj.Status.LastScheduleTime; t != nil {
		last = age(*t, now)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "<unset>"
	if cj.Spec.Suspend != nil {
		suspend = "False"
		if *cj.Spec.Suspend {
			suspend = "True"
		}
	}
	names, images := containersAndImages(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []interface{}{cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last,
		age(cj.CreationTimestamp, now), names, images, selectorOrNone(cj.Spec.JobTemplate.Spec.Selector)}
}

func selectorOrNone(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	return metav1.FormatLabelSelector(sel)
}

func derefInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
