package job

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
)

// Condition reasons and messages of Kubernetes' job controller.
const (
	reasonCompletions = "CompletionsReached"
	msgCompletions    = "Reached expected number of succeeded pods"
	reasonBackoff     = "BackoffLimitExceeded"
	msgBackoff        = "Job has reached the specified backoff limit"
	reasonDeadline    = "DeadlineExceeded"
	msgDeadline       = "Job was active longer than specified deadline"
)

// podCounts is what the Job's pods say now.
type podCounts struct {
	active      []*corev1.Pod // not finished, not being deleted
	terminating int32
	ready       int32
	restarts    int32               // container restarts of active pods (restartPolicy OnFailure)
	held        map[int]*corev1.Pod // failed pods awaiting their index's replacement (backoffLimitPerIndex)
}

func countPods(pods []*corev1.Pod) podCounts {
	var pc podCounts
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.DeletionTimestamp != nil:
			pc.terminating++
		default:
			pc.active = append(pc.active, p)
			if podstatus.Ready(p) {
				pc.ready++
			}
			for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				pc.restarts += cs.RestartCount
			}
		}
	}
	return pc
}

func (c *Controller) syncRunning(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod, satisfied bool) error {
	job, held, err := c.trackFinished(ctx, key, job, pods)
	if err != nil {
		return err
	}
	now := c.cfg.Clock.Now()
	pc := countPods(pods)
	pc.held = held
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	c.setSuspended(job, suspended, now)
	if job.Status.StartTime == nil && !suspended {
		job.Status.StartTime = &metav1.Time{Time: now}
	}
	var manageErr error
	target := c.terminalTarget(job, pc, now)
	switch {
	case target != nil:
		manageErr = c.finish(ctx, job, pc, *target, now)
		pc.active = nil
	case satisfied:
		manageErr = c.manage(ctx, key, job, pc, suspended)
	}
	job.Status.Active = int32(len(pc.active))
	job.Status.Ready = &pc.ready
	job.Status.Terminating = &pc.terminating
	if _, err := c.writeStatus(ctx, job); err != nil {
		return errors.Join(manageErr, err)
	}
	if d := job.Spec.ActiveDeadlineSeconds; d != nil && job.Status.StartTime != nil && !isFinished(job) {
		c.queue.AddAfter(key, job.Status.StartTime.Add(time.Duration(*d)*time.Second).Sub(now))
	}
	if isFinished(job) {
		return c.expireIfDue(ctx, key, job)
	}
	return manageErr
}

// terminalTarget is the condition the Job is heading for: one already set
// (FailureTarget, SuccessCriteriaMet) or, newly, in Kubernetes' order: back-off, deadline,
// failed indexes, the successPolicy, completions.
func (c *Controller) terminalTarget(job *batchv1.Job, pc podCounts, now time.Time) *batchv1.JobCondition {
	for _, cond := range job.Status.Conditions {
		if (cond.Type == batchv1.JobFailureTarget || cond.Type == batchv1.JobSuccessCriteriaMet) && cond.Status == corev1.ConditionTrue {
			return &cond
		}
	}
	newCond := func(t batchv1.JobConditionType, reason, msg string) *batchv1.JobCondition {
		return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
			LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	}
	st, spec := job.Status, job.Spec
	limit := *spec.BackoffLimit
	onFailure := spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
	switch {
	case st.Failed > limit, onFailure && (limit == 0 && pc.restarts > 0 || limit > 0 && pc.restarts >= limit):
		return newCond(batchv1.JobFailureTarget, reasonBackoff, msgBackoff)
	case spec.ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		!now.Before(st.StartTime.Add(time.Duration(*spec.ActiveDeadlineSeconds)*time.Second)):
		return newCond(batchv1.JobFailureTarget, reasonDeadline, msgDeadline)
	}
	if reason, msg, ok := perIndexTarget(job); ok {
		return newCond(batchv1.JobFailureTarget, reason, msg)
	}
	if msg, ok := matchSuccessPolicy(job); ok {
		return newCond(batchv1.JobSuccessCriteriaMet, reasonSuccessPolicy, msg)
	}
	switch {
	case spec.Completions != nil && st.Succeeded >= *spec.Completions,
		spec.Completions == nil && st.Succeeded > 0 && len(pc.active) == 0:
		return newCond(batchv1.JobSuccessCriteriaMet, reasonCompletions, msgCompletions)
	}
	return nil
}

// finish records the target condition, deletes the pods still running, and once none is
// left adds Complete or Failed (Kubernetes 1.31+ waits for pods to go before that).
func (c *Controller) finish(ctx context.Context, job *batchv1.Job, pc podCounts, target batchv1.JobCondition, now time.Time) error {
	if setCondition(job, target) {
		if err := c.step(ctx, job, "see-finished", fmt.Sprintf("Job %s: %s", job.Name, target.Type),
			stepper.Say("held.job_sees_finished", job.Name, string(target.Type)),
			target.Message, stepper.Say("why.verbatim", target.Message)); err != nil {
			return err
		}
	}
	var errs []error
	for _, p := range pc.active {
		errs = append(errs, c.deletePod(ctx, job, p, target.Message, stepper.Say("why.verbatim", target.Message)))
	}
	// Failed pods held for replacements that will not come are counted by the next sync
	// (the target condition, now written, lets them go) before the Job is finished.
	if err := errors.Join(errs...); err != nil || len(pc.active) > 0 || pc.terminating > 0 || len(pc.held) > 0 {
		return err
	}
	final := batchv1.JobComplete
	if target.Type == batchv1.JobFailureTarget {
		final = batchv1.JobFailed
	}
	if err := c.step(ctx, job, "finish-job", fmt.Sprintf("Job %s is %s", job.Name, final),
		stepper.Say("held.job_finishes", job.Name, string(final)),
		fmt.Sprintf("%s, and none of its pods is running", target.Message),
		stepper.Say("why.job_none_running", target.Message)); err != nil {
		return err
	}
	target.Type, target.LastProbeTime, target.LastTransitionTime = final, metav1.NewTime(now), metav1.NewTime(now)
	setCondition(job, target)
	if final == batchv1.JobComplete {
		job.Status.CompletionTime = &metav1.Time{Time: now}
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
	} else {
		c.recorder.Event(job, corev1.EventTypeWarning, target.Reason, target.Message)
	}
	return nil
}

// setCondition adds cond unless a condition of its type is already true; it says whether
// it did.
func setCondition(job *batchv1.Job, cond batchv1.JobCondition) bool {
	for i, have := range job.Status.Conditions {
		if have.Type != cond.Type {
			continue
		}
		if have.Status == cond.Status {
			return false
		}
		job.Status.Conditions[i] = cond
		return true
	}
	job.Status.Conditions = append(job.Status.Conditions, cond)
	return true
}

func isFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// setSuspended keeps the Suspended condition in step with spec.suspend.
func (c *Controller) setSuspended(job *batchv1.Job, suspended bool, now time.Time) {
	cond := batchv1.JobCondition{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended",
		Message: "Job suspended", LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	if !suspended {
		for _, have := range job.Status.Conditions {
			if have.Type == batchv1.JobSuspended && have.Status == corev1.ConditionTrue {
				cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "JobResumed", "Job resumed"
				setCondition(job, cond)
				job.Status.StartTime = nil // the deadline counts from the resume
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
			}
		}
		return
	}
	if setCondition(job, cond) {
		job.Status.StartTime = nil
		c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
	}
}

// manage creates or deletes pods so that as many run as the Job wants now.
func (c *Controller) manage(ctx context.Context, key string, job *batchv1.Job, pc podCounts, suspended bool) error {
	want := *job.Spec.Parallelism
	switch {
	case suspended:
		want = 0
	case job.Spec.Completions != nil:
		want = min(want, max(*job.Spec.Completions-job.Status.Succeeded, 0))
	case job.Status.Succeeded > 0:
		want = 0 // a work queue: one success means no new pods are needed
	}
	if isIndexed(job) {
		if surplus := surplusIndexed(job, pc.active); len(surplus) > 0 {
			return c.deleteSurplus(ctx, job, surplus)
		}
	}
	have := int32(len(pc.active))
	if want == have {
		return nil
	}
	why := fmt.Sprintf("parallelism %d, completions %s, %d succeeded", *job.Spec.Parallelism, completionsText(job), job.Status.Succeeded)
	because := stepper.Say("why.job_counts", *job.Spec.Parallelism, completionsText(job), job.Status.Succeeded)
	if suspended {
		why, because = "the Job is suspended", stepper.Say("why.job_suspended")
	}
	if want < have {
		var errs []error
		for _, p := range pickVictims(pc.active, int(have-want)) {
			errs = append(errs, c.deletePod(ctx, job, p, why, because))
		}
		return errors.Join(errs...)
	}
	if rem := c.backoff.remaining(key, c.cfg.Clock.Now()); rem > 0 && !hasPerIndexLimit(job) {
		c.queue.AddAfter(key, rem) // a failed pod is replaced after the back-off
		return nil
	}
	n := int(want - have)
	indexes := make([]int, n)
	for i := range indexes {
		indexes[i] = -1
	}
	if isIndexed(job) {
		indexes = pendingIndexes(job, pc.active, n)
	}
	if hasPerIndexLimit(job) {
		// Each index waits out its own back-off.
		var wait time.Duration
		if indexes, wait = readyIndexes(indexes, pc.held, c.cfg.Clock.Now()); wait > 0 {
			c.queue.AddAfter(key, wait)
			return nil
		}
	}
	if len(indexes) == 0 {
		return nil
	}
	if err := c.step(ctx, job, "see-diff", fmt.Sprintf("Job %s wants %d running pods and has %d", job.Name, want, have),
		stepper.Say("held.job_sees_diff", job.Name, want, have), why, because); err != nil {
		return err
	}
	n = len(indexes)
	c.exp.ExpectCreations(key, n)
	for i := range n {
		if err := c.createPod(ctx, job, indexes[i], pc.held[indexes[i]], why, because); err != nil {
			for range n - i {
				c.exp.CreationObserved(key) // never to be seen
			}
			return err
		}
	}
	return nil
}

// deleteSurplus deletes an Indexed Job's pods for indexes it does not need run.
func (c *Controller) deleteSurplus(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		errs = append(errs, c.deletePod(ctx, job, p, "its completion index is already completed or taken by another pod",
			stepper.Say("why.job_index_surplus")))
	}
	return errors.Join(errs...)
}

func completionsText(job *batchv1.Job) string {
	if job.Spec.Completions == nil {
		return "unset"
	}
	return fmt.Sprint(*job.Spec.Completions)
}

// pickVictims prefers pods not yet running, then not ready, then the newest.
func pickVictims(pods []*corev1.Pod, n int) []*corev1.Pod {
	sorted := append([]*corev1.Pod(nil), pods...)
	rank := func(p *corev1.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case p.Status.Phase == corev1.PodPending:
			return 1
		case !podstatus.Ready(p):
			return 2
		}
		return 3
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if ri, rj := rank(sorted[i]), rank(sorted[j]); ri != rj {
			return ri < rj
		}
		return sorted[i].CreationTimestamp.After(sorted[j].CreationTimestamp.Time)
	})
	return sorted[:min(n, len(sorted))]
}

// step holds action on job in step mode; msg and why are the English, says and because
// the same as catalogue keys for the dashboard.
func (c *Controller) step(ctx context.Context, job *batchv1.Job, action, msg string, says stepper.Text, why string, because stepper.Text) error {
	return c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: action, Kind: "Job",
		Namespace: job.Namespace, Name: job.Name, Message: msg, Says: says, Why: why, Because: because})
}

// writeStatus writes job.Status unless the stored one is the same, returning the Job
// as stored (its new resourceVersion). A conflict is returned: the sync is retried.
func (c *Controller) writeStatus(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	cached, err := c.jobs.Jobs(job.Namespace).Get(job.Name)
	if err == nil && cached.ResourceVersion == job.ResourceVersion && apiequality.Semantic.DeepEqual(cached.Status, job.Status) {
		return job, nil
	}
	updated, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return job, nil
	}
	if err == nil {
		c.written.set(jobKey(updated), updated.ResourceVersion)
	}
	return updated, err
}
