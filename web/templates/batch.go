package templates

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"webkube/cluster/printers"
)

// JobRow is one Job: kubectl's STATUS, COMPLETIONS and DURATION.
type JobRow struct {
	Namespace, Name, Status, Completions, Duration, Age, Color string
	Active                                                     int32
	AgeAt                                                      int64 // see Millis
	OwnerKind, Owner                                           string
}

// CronJobRow is one CronJob.
type CronJobRow struct {
	Namespace, Name, Schedule, TimeZone, LastSchedule, Age string
	Suspended                                              bool
	Active                                                 int
	AgeAt                                                  int64 // see Millis
}

// JobRowOf converts a Job; the cells are those of `kubectl get jobs`.
func JobRowOf(j *batchv1.Job, now time.Time) JobRow {
	r := JobRow{Namespace: j.Namespace, Name: j.Name, Status: printers.JobStatus(j), Active: j.Status.Active,
		Age: Age(j.CreationTimestamp, now), AgeAt: Millis(j.CreationTimestamp)}
	if ref := metav1.GetControllerOf(j); ref != nil {
		r.OwnerKind, r.Owner = ref.Kind, ref.Name
	}
	cells := printers.Cells(j, now)
	r.Completions, _ = cells[2].(string)
	r.Duration, _ = cells[3].(string)
	switch r.Status {
	case "Complete":
		r.Color = "ok"
	case "Failed", "FailureTarget":
		r.Color = "bad"
	case "Suspended":
		r.Color = "idle"
	default:
		r.Color = "warn"
	}
	return r
}

// CronJobRowOf converts a CronJob.
func CronJobRowOf(cj *batchv1.CronJob, now time.Time) CronJobRow {
	r := CronJobRow{Namespace: cj.Namespace, Name: cj.Name, Schedule: cj.Spec.Schedule, TimeZone: "-",
		Suspended: cj.Spec.Suspend != nil && *cj.Spec.Suspend, Active: len(cj.Status.Active),
		LastSchedule: "-", Age: Age(cj.CreationTimestamp, now), AgeAt: Millis(cj.CreationTimestamp)}
	if cj.Spec.TimeZone != nil {
		r.TimeZone = *cj.Spec.TimeZone
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		r.LastSchedule = fmt.Sprintf("%s ago", duration.HumanDuration(now.Sub(t.Time)))
	}
	return r
}
