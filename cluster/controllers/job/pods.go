package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/stepper"
)

// podFromTemplate builds the pod a Job creates: <job>-xxxxx, the template's labels (with
// the generated job-name and controller-uid), held by the job-tracking finalizer until
// counted, and controlled by the Job so the garbage collector deletes it with the Job.
// An Indexed Job's pod (index ≥ 0) also gets its completion index (withIndex) and, with
// backoffLimitPerIndex, its index's failure counts so far (from the pod it replaces).
func podFromTemplate(job *batchv1.Job, index int, replaced *corev1.Pod) *corev1.Pod {
	t := true
	tmpl := job.Spec.Template.DeepCopy()
	prefix := job.Name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    job.Namespace,
			Labels:       tmpl.Labels,
			Annotations:  tmpl.Annotations,
			Finalizers:   append(tmpl.Finalizers, batchv1.JobTrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: job.Name, UID: job.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: tmpl.Spec,
	}
	if index >= 0 {
		withIndex(pod, job, index)
		if hasPerIndexLimit(job) {
			withFailureCounts(pod, job, replaced)
		}
		if len(pod.GenerateName) > 58 {
			pod.GenerateName = pod.GenerateName[:58]
		}
	}
	return pod
}

func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, index int, replaced *corev1.Pod, why string, because stepper.Text) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "create-pod", Kind: "Job",
		Namespace: job.Namespace, Name: job.Name,
		Message: fmt.Sprintf("creating a pod for Job %s", job.Name), Says: stepper.Say("held.job_creates_pod", job.Name),
		Why: why, Because: because}); err != nil {
		return err
	}
	pod, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, podFromTemplate(job, index, replaced), metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() == nil {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", pod.Name)
	return nil
}

func (c *Controller) deletePod(ctx context.Context, job *batchv1.Job, p *corev1.Pod, why string, because stepper.Text) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "delete-pod", Kind: "Pod",
		Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName,
		Message: fmt.Sprintf("deleting pod %s of Job %s", p.Name, job.Name), Says: stepper.Say("held.job_deletes_pod", p.Name, job.Name),
		Why: why, Because: because}); err != nil {
		return err
	}
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		if ctx.Err() == nil {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		}
		return err
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}

// expireIfDue deletes a finished Job ttlSecondsAfterFinished after it finished (with its
// pods, in the foreground, as the TTL-after-finished controller), or looks again then.
func (c *Controller) expireIfDue(ctx context.Context, key string, job *batchv1.Job) error {
	ttl := job.Spec.TTLSecondsAfterFinished
	if ttl == nil || job.DeletionTimestamp != nil {
		return nil
	}
	var finished time.Time
	for _, cond := range job.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			finished = cond.LastTransitionTime.Time
		}
	}
	expireAt := finished.Add(time.Duration(*ttl) * time.Second)
	if left := expireAt.Sub(c.cfg.Clock.Now()); left > 0 {
		c.queue.AddAfter(key, left)
		return nil
	}
	ago := int(c.cfg.Clock.Since(finished).Seconds())
	if err := c.step(ctx, job, "delete-expired-job", fmt.Sprintf("deleting finished Job %s", job.Name),
		stepper.Say("held.job_deletes_expired", job.Name),
		fmt.Sprintf("it finished %ds ago and its ttlSecondsAfterFinished is %d", ago, *ttl),
		stepper.Say("why.job_ttl", ago, *ttl)); err != nil {
		return err
	}
	fg := metav1.DeletePropagationForeground
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &job.UID}, PropagationPolicy: &fg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
