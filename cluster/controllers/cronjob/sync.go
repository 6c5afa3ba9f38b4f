package cronjob

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
	_ "time/tzdata" // timeZone names resolve on hosts without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/stepper"
)

// nextDelta is added when looking again at the next scheduled time, so the clock is
// surely past it, as Kubernetes' controller does.
const nextDelta = 100 * time.Millisecond

// maxMissed is how many missed start times earn a warning.
const maxMissed = 100

func finished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

// syncActive makes status.active the owned Jobs still running, and notes successes.
func (c *Controller) syncActive(cj *batchv1.CronJob, owned []*batchv1.Job) {
	byUID := map[string]*batchv1.Job{}
	for _, j := range owned {
		byUID[string(j.UID)] = j
	}
	var active []corev1.ObjectReference
	seen := map[string]bool{}
	for _, ref := range cj.Status.Active {
		j, ok := byUID[string(ref.UID)]
		if !ok {
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			continue
		}
		seen[string(ref.UID)] = true
		if t, done := finished(j); done {
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, t)
			continue
		}
		active = append(active, ref)
	}
	for _, j := range owned {
		if _, done := finished(j); !done && !seen[string(j.UID)] && j.DeletionTimestamp == nil {
			active = append(active, jobRef(j)) // created just before a crash, or by kubectl create job --from
		}
	}
	cj.Status.Active = active
	for _, j := range owned {
		if t, done := finished(j); done && t == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time)) {
			cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name,
		UID: j.UID, ResourceVersion: j.ResourceVersion}
}

// schedule starts the Job due now, if any, and asks to be woken at the next time.
func (c *Controller) schedule(ctx context.Context, key string, cj *batchv1.CronJob) error {
	if cj.DeletionTimestamp != nil || cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return nil
	}
	sched, loc, err := parse(cj)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil // invalid input; a fixed spec comes back as an update
	}
	now := c.cfg.Clock.Now()
	// The wait is measured from the clock when it is queued, not from now: a sync that
	// took a while (or a test clock set forward meanwhile) must not push the next
	// scheduled time out by that much.
	defer func() { c.queue.AddAfter(key, sched.Next(now.In(loc)).Sub(c.cfg.Clock.Now())+nextDelta) }()
	due, missed := mostRecent(cj, sched, loc, now)
	if due == nil {
		return nil
	}
	if missed > maxMissed {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && due.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", due.UTC().Format(time.RFC1123Z))
		return nil
	}
	name := jobName(cj, *due)
	for _, ref := range cj.Status.Active {
		if ref.Name == name {
			return nil // already started
		}
	}
	if cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Equal(&metav1.Time{Time: *due}) {
		return nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			// Tried again when the running one finishes (its update wakes us), if still in time.
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		}
	case batchv1.ReplaceConcurrent:
		if err := c.replaceActive(ctx, cj); err != nil {
			return err
		}
	}
	return c.startJob(ctx, cj, *due, loc)
}

func parse(cj *batchv1.CronJob) (cron.Schedule, *time.Location, error) {
	loc := time.Local
	if cj.Spec.TimeZone != nil {
		l, err := time.LoadLocation(*cj.Spec.TimeZone)
		if err != nil {
			return nil, nil, err
		}
		loc = l
	}
	sched, err := cron.ParseStandard(cj.Spec.Schedule)
	return sched, loc, err
}

// mostRecent is the latest scheduled time not after now that has not been started (after
// lastScheduleTime, or creation), and how many such times there were.
func mostRecent(cj *batchv1.CronJob, sched cron.Schedule, loc *time.Location, now time.Time) (*time.Time, int) {
	earliest := cj.CreationTimestamp.Time
	if t := cj.Status.LastScheduleTime; t != nil {
		earliest = t.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		// Times older than the deadline could not start anyway; do not walk through them.
		if limit := now.Add(-time.Duration(*d) * time.Second); limit.After(earliest) {
			earliest = limit
		}
	}
	var due *time.Time
	missed := 0
	for t := sched.Next(earliest.In(loc)); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		tt := t
		due = &tt
		missed++
	}
	return due, missed
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>, as Kubernetes names
// them, so one scheduled time can only ever make one Job.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

func (c *Controller) replaceActive(ctx context.Context, cj *batchv1.CronJob) error {
	var errs []error
	for _, ref := range cj.Status.Active {
		if err := c.step(ctx, cj, "delete-job", fmt.Sprintf("deleting Job %s of CronJob %s", ref.Name, cj.Name),
			stepper.Say("held.cj_deletes_job", ref.Name, cj.Name),
			"concurrencyPolicy Replace: a new run replaces the one still running", stepper.Say("why.cj_replace")); err != nil {
			return err
		}
		if err := c.deleteJob(ctx, cj, ref.Name, ref.UID); err != nil {
			errs = append(errs, err)
		}
	}
	cj.Status.Active = nil
	return errors.Join(errs...)
}

func (c *Controller) startJob(ctx context.Context, cj *batchv1.CronJob, due time.Time, loc *time.Location) error {
	at := due.In(loc).Format(time.RFC3339)
	if err := c.step(ctx, cj, "create-job", fmt.Sprintf("creating a Job for CronJob %s", cj.Name),
		stepper.Say("held.cj_creates_job", cj.Name),
		fmt.Sprintf("its schedule %q named %s", cj.Spec.Schedule, at), stepper.Say("why.cj_schedule", cj.Spec.Schedule, at)); err != nil {
		return err
	}
	job, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, jobFromTemplate(cj, due, loc), metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, jobName(cj, due), metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if ref := metav1.GetControllerOf(existing); ref == nil || ref.UID != cj.UID {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
			return nil // someone else's Job has our name; the next time has another
		}
		job = existing // ours, made before a crash: just record it
	case err != nil:
		if ctx.Err() == nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		}
		return err
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", job.Name)
	}
	if _, done := finished(job); !done {
		cj.Status.Active = append(cj.Status.Active, jobRef(job))
	}
	cj.Status.LastScheduleTime = &metav1.Time{Time: due}
	return nil
}

func jobFromTemplate(cj *batchv1.CronJob, due time.Time, loc *time.Location) *batchv1.Job {
	t := true
	tmpl := cj.Spec.JobTemplate.DeepCopy()
	annotations := tmpl.Annotations
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = due.In(loc).Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: jobName(cj, due), Namespace: cj.Namespace,
			Labels: tmpl.Labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: cj.Name, UID: cj.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: tmpl.Spec,
	}
}

// cleanupHistory deletes the oldest finished Jobs beyond the history limits.
func (c *Controller) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, owned []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range owned {
		switch t, done := finished(j); {
		case !done || j.DeletionTimestamp != nil:
		case t == batchv1.JobComplete:
			ok = append(ok, j)
		default:
			failed = append(failed, j)
		}
	}
	var errs []error
	for _, set := range []struct {
		jobs  []*batchv1.Job
		limit *int32
		what  string
	}{{ok, cj.Spec.SuccessfulJobsHistoryLimit, "successfulJobsHistoryLimit"}, {failed, cj.Spec.FailedJobsHistoryLimit, "failedJobsHistoryLimit"}} {
		if set.limit == nil || len(set.jobs) <= int(*set.limit) {
			continue
		}
		// Oldest first; runs started in the same second by name, as Kubernetes' byJobStartTime.
		sort.Slice(set.jobs, func(i, k int) bool {
			if a, b := startTime(set.jobs[i]), startTime(set.jobs[k]); !a.Equal(b) {
				return a.Before(b)
			}
			return set.jobs[i].Name < set.jobs[k].Name
		})
		for _, j := range set.jobs[:len(set.jobs)-int(*set.limit)] {
			if err := c.step(ctx, cj, "delete-job", fmt.Sprintf("deleting old Job %s of CronJob %s", j.Name, cj.Name),
				stepper.Say("held.cj_deletes_old_job", j.Name, cj.Name),
				fmt.Sprintf("it keeps %d finished Jobs of this kind (%s)", *set.limit, set.what),
				stepper.Say("why.cj_history", *set.limit, set.what)); err != nil {
				return err
			}
			errs = append(errs, c.deleteJob(ctx, cj, j.Name, j.UID))
		}
	}
	return errors.Join(errs...)
}

func startTime(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

// deleteJob deletes a Job and (in the background) its pods.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, name string, uid types.UID) error {
	bg := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(cj.Namespace).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return err
	}
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", name)
	return nil
}

// step holds action on cj in step mode; msg and why are the English, says and because
// the same as catalogue keys for the dashboard.
func (c *Controller) step(ctx context.Context, cj *batchv1.CronJob, action, msg string, says stepper.Text, why string, because stepper.Text) error {
	return c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: action, Kind: "CronJob",
		Namespace: cj.Namespace, Name: cj.Name, Message: msg, Says: says, Why: why, Because: because})
}

// writeStatus writes cj.Status unless it is what the cache holds.
func (c *Controller) writeStatus(ctx context.Context, cached, cj *batchv1.CronJob) error {
	if apiequality.Semantic.DeepEqual(cached.Status, cj.Status) {
		return nil
	}
	_, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
