package job

import (
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"webkube/internal/jobindex"
)

// An Indexed Job's own limits, as Kubernetes' job controller (1.32):
//
// backoffLimitPerIndex: each index may fail that many times before it is given up. A pod
// carries its index's failure count so far in the batch.kubernetes.io/job-index-failure-count
// annotation (failures a podFailurePolicy ignores in ...-ignored-failure-count). A failed
// pod is kept (its finalizer stays) until its replacement is created with the count plus
// one, so the count survives a restart of the controller. A pod failing with the count at
// the limit, or matching a FailIndex rule, fails its index: status.failedIndexes lists it
// and it is not run again. The Job fails with FailedIndexes once every index has succeeded
// or failed, or with MaxFailedIndexesExceeded past maxFailedIndexes.
//
// successPolicy: the Job succeeds (SuccessCriteriaMet, then Complete once its remaining
// pods are gone) as soon as one rule holds: all of succeededIndexes, or succeededCount of
// them (or of all indexes) completed.

const (
	reasonFailedIndexes     = "FailedIndexes"
	msgFailedIndexes        = "Job has failed indexes"
	reasonMaxFailedIndexes  = "MaxFailedIndexesExceeded"
	msgMaxFailedIndexes     = "Job has exceeded the specified maximal number of failed indexes"
	reasonSuccessPolicy     = "SuccessPolicy"
	msgSuccessPolicyMatched = "Matched rules at index %d"
)

func hasPerIndexLimit(job *batchv1.Job) bool {
	return isIndexed(job) && job.Spec.BackoffLimitPerIndex != nil
}

// failedIndexesOf is status.failedIndexes.
func failedIndexesOf(job *batchv1.Job) sets.Set[int] {
	if job.Status.FailedIndexes == nil {
		return sets.New[int]()
	}
	return jobindex.Parse(*job.Status.FailedIndexes)
}

func annotationCount(p *corev1.Pod, key string) int32 {
	n, err := strconv.ParseInt(p.Annotations[key], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// exhaustsIndex says whether a failed pod gives its index up: a FailIndex rule matched it,
// or it failed (not ignored) with its index's failures already at backoffLimitPerIndex.
func exhaustsIndex(job *batchv1.Job, p *corev1.Pod) bool {
	if !podFailed(p) {
		return false
	}
	switch action, _ := matchFailurePolicy(job, p); action {
	case batchv1.PodFailurePolicyActionFailIndex:
		return true
	case batchv1.PodFailurePolicyActionIgnore:
		return false
	}
	return annotationCount(p, batchv1.JobIndexFailureCountAnnotation) >= *job.Spec.BackoffLimitPerIndex
}

// failedIndexes are status.failedIndexes and the indexes of not yet counted pods that
// exhaust them.
func failedIndexes(job *batchv1.Job, pods []*corev1.Pod) sets.Set[int] {
	out := failedIndexesOf(job)
	for _, p := range pods {
		if ix, ok := completionIndex(p, job); ok && hasTrackingFinalizer(p) && exhaustsIndex(job, p) {
			out.Insert(ix)
		}
	}
	return out
}

// heldForReplacement is, per index still to be run and without an active pod, its latest
// failed pod not yet counted: its finalizer stays until the replacement, which carries its
// failure count on, is created.
func (c *Controller) heldForReplacement(job *batchv1.Job, pods []*corev1.Pod, counted sets.Set[types.UID], failed sets.Set[int]) map[int]*corev1.Pod {
	done, active := jobindex.Parse(job.Status.CompletedIndexes), sets.New[int]()
	for _, p := range pods {
		ix, ok := completionIndex(p, job)
		switch {
		case !ok:
		case p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p):
			done.Insert(ix)
		case !podFinished(p):
			active.Insert(ix)
		}
	}
	held := map[int]*corev1.Pod{}
	for _, p := range pods {
		ix, ok := completionIndex(p, job)
		if !ok || !podFailed(p) || !hasTrackingFinalizer(p) || counted.Has(p.UID) || c.released.has(p.UID) ||
			done.Has(ix) || failed.Has(ix) || active.Has(ix) {
			continue
		}
		if last, ok := held[ix]; !ok || absoluteFailures(last) <= absoluteFailures(p) && !failedAt(p).Before(failedAt(last)) {
			held[ix] = p
		}
	}
	return held
}

func absoluteFailures(p *corev1.Pod) int32 {
	return annotationCount(p, batchv1.JobIndexFailureCountAnnotation) + annotationCount(p, batchv1.JobIndexIgnoredFailureCountAnnotation)
}

// failedAt is when a failed pod ended: its last container, else when it stopped being
// ready, was deleted, or was created (Kubernetes' getFinishedTime). Unlike finishTime it
// never says now, as it is read again on every sync.
func failedAt(p *corev1.Pod) time.Time {
	if t := finishTime(p, time.Time{}); !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Time
	}
	return p.CreationTimestamp.Time
}

// withFailureCounts gives a new pod of an index its failure counts: those of the pod it
// replaces, plus that pod's own failure (ignored or counted).
func withFailureCounts(pod *corev1.Pod, job *batchv1.Job, replaced *corev1.Pod) {
	var count, ignoredCount int32
	if replaced != nil {
		count = annotationCount(replaced, batchv1.JobIndexFailureCountAnnotation)
		ignoredCount = annotationCount(replaced, batchv1.JobIndexIgnoredFailureCountAnnotation)
		if action, _ := matchFailurePolicy(job, replaced); action == batchv1.PodFailurePolicyActionIgnore {
			ignoredCount++
		} else {
			count++
		}
	}
	pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(count))
	if ignoredCount > 0 {
		pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignoredCount))
	}
}

// indexBackoff is how long an index waits before its replacement: 10 s after its first
// failure, doubling per failure (ignored ones too), at most 6 minutes.
func indexBackoff(held *corev1.Pod, now time.Time) time.Duration {
	if held == nil {
		return 0
	}
	delay := DefaultBackoff
	for i := int32(1); i < absoluteFailures(held)+1 && delay < MaxBackoff; i++ {
		delay *= 2
	}
	return max(failedAt(held).Add(min(delay, MaxBackoff)).Sub(now), 0)
}

// readyIndexes splits the indexes to create into those whose back-off has passed and,
// if none has, the shortest wait.
func readyIndexes(indexes []int, held map[int]*corev1.Pod, now time.Time) ([]int, time.Duration) {
	var ready []int
	var wait time.Duration
	for _, ix := range indexes {
		switch d := indexBackoff(held[ix], now); {
		case d == 0:
			ready = append(ready, ix)
		case wait == 0 || d < wait:
			wait = d
		}
	}
	if len(ready) > 0 {
		return ready, 0
	}
	return nil, wait
}

// perIndexTarget is the failure an Indexed Job with backoffLimitPerIndex has reached, if any.
func perIndexTarget(job *batchv1.Job) (reason, msg string, ok bool) {
	if !hasPerIndexLimit(job) {
		return "", "", false
	}
	failed := failedIndexesOf(job).Len()
	switch {
	case job.Spec.MaxFailedIndexes != nil && failed > int(*job.Spec.MaxFailedIndexes):
		return reasonMaxFailedIndexes, msgMaxFailedIndexes, true
	case failed > 0 && failed+jobindex.Parse(job.Status.CompletedIndexes).Len() >= int(*job.Spec.Completions):
		return reasonFailedIndexes, msgFailedIndexes, true
	}
	return "", "", false
}

// matchSuccessPolicy says which rule of the successPolicy the completed indexes meet, with
// the message Kubernetes puts on the condition.
func matchSuccessPolicy(job *batchv1.Job) (string, bool) {
	policy := job.Spec.SuccessPolicy
	done := jobindex.Parse(job.Status.CompletedIndexes)
	if policy == nil || !isIndexed(job) || done.Len() == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		switch {
		case rule.SucceededIndexes != nil:
			want := jobindex.Parse(*rule.SucceededIndexes)
			if want.Len() == 0 {
				continue // unreadable: never met
			}
			have := want.Intersection(done).Len()
			if have == want.Len() || rule.SucceededCount != nil && have >= int(*rule.SucceededCount) {
				return fmt.Sprintf(msgSuccessPolicyMatched, i), true
			}
		case rule.SucceededCount != nil && done.Len() >= int(*rule.SucceededCount):
			return fmt.Sprintf(msgSuccessPolicyMatched, i), true
		}
	}
	return "", false
}

// finishing says whether the Job has its target condition (FailureTarget or
// SuccessCriteriaMet): no pod is replaced any more.
func finishing(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobFailureTarget || c.Type == batchv1.JobSuccessCriteriaMet) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
