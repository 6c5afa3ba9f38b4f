package web

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/web/templates"
)

// jobObject fills a Job's page: kubectl's status, the counts, its conditions and pods.
func (d *Dashboard) jobObject(o *templates.Object, j *batchv1.Job) {
	now := d.now()
	row := templates.JobRowOf(j, now)
	o.Kind, o.Status, o.Color = "Job", row.Status, row.Color
	opt := func(p *int32) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	o.Facts = []templates.Label{{Key: "completions", Value: row.Completions}, {Key: "parallelism", Value: opt(j.Spec.Parallelism)},
		{Key: "backoffLimit", Value: opt(j.Spec.BackoffLimit)}, {Key: "active", Value: fmt.Sprint(j.Status.Active)},
		{Key: "succeeded", Value: fmt.Sprint(j.Status.Succeeded)}, {Key: "failed", Value: fmt.Sprint(j.Status.Failed)},
		{Key: "duration", Value: row.Duration}}
	for _, c := range j.Status.Conditions {
		o.Conditions = append(o.Conditions, templates.Condition{Type: string(c.Type), Status: string(c.Status),
			Reason: c.Reason, Message: c.Message, Age: templates.Age(c.LastTransitionTime, now), AgeAt: templates.Millis(c.LastTransitionTime)})
	}
	o.Owned = d.ownedPods(j.Namespace, j.UID, j.Spec.Selector)
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion && j.Spec.Completions != nil {
		o.JobIndexes = &templates.JobIndexes{Completions: *j.Spec.Completions, Completed: j.Status.CompletedIndexes,
			PerIndex: j.Spec.BackoffLimitPerIndex != nil}
		if j.Status.FailedIndexes != nil {
			o.JobIndexes.Failed = *j.Status.FailedIndexes
		}
	}
}

// cronJobObject fills a CronJob's page: its schedule, status times and Jobs.
func (d *Dashboard) cronJobObject(o *templates.Object, cj *batchv1.CronJob) {
	now := d.now()
	row := templates.CronJobRowOf(cj, now)
	o.Kind, o.Color = "CronJob", "ok"
	o.Status = fmt.Sprintf("%d active", row.Active)
	if row.Suspended {
		o.Status, o.Color = "suspended", "idle"
	}
	last := "-"
	if t := cj.Status.LastSuccessfulTime; t != nil {
		last = templates.Age(*t, now) + " ago"
	}
	o.Facts = []templates.Label{{Key: "schedule", Value: row.Schedule}, {Key: "timeZone", Value: row.TimeZone},
		{Key: "concurrencyPolicy", Value: string(cj.Spec.ConcurrencyPolicy)},
		{Key: "last schedule", Value: row.LastSchedule}, {Key: "last successful", Value: last}}
	jobs, _ := d.l.jobs.Jobs(cj.Namespace).List(everything)
	for _, j := range jobs {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			r := templates.JobRowOf(j, now)
			o.Owned = append(o.Owned, templates.Ref{Kind: "Job", Namespace: j.Namespace, Name: j.Name,
				Note: r.Status + ", " + r.Completions})
		}
	}
}
