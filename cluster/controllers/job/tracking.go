package job

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/controllers/ownerref"
	"webkube/cluster/stepper"
	"webkube/internal/jobindex"
)

// Counting finished pods exactly once, as Kubernetes' job controller does: a pod is created
// with the job-tracking finalizer, so it cannot vanish before it is counted. A finished
// pod's UID is first written to status.uncountedTerminatedPods, then its finalizer is
// removed, then the UID moves into status.succeeded or status.failed. A crash between
// steps repeats the step, never the count.

var removeFinalizerPatch = []byte(fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer))

func hasTrackingFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

// podFailed: a failed pod, or one deleted before it succeeded (it may never reach Failed).
func podFailed(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

func podFinished(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded || podFailed(p) }

// finishTime is when a finished pod's last container ended (now if it does not say).
func finishTime(p *corev1.Pod, now time.Time) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if t.IsZero() {
		return now
	}
	return t
}

// claimPods returns the pods the Job owns (finished ones too), adopting and releasing.
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, nil // refused by the API server; nothing to do
	}
	all, err := c.pods.Pods(job.Namespace).List(selector)
	if err != nil {
		return nil, err
	}
	m := &ownerref.Manager{
		Owner: job, OwnerGVK: controllerKind, Selector: selector,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: ownerref.RecheckOwner(job, func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		}),
	}
	return ownerref.Claim(ctx, m, all)
}

// trackFinished counts the pods that finished since the last sync into job.Status (in
// place, written by the caller), persisting the uncounted UIDs first. An Indexed Job's
// succeeded pods are counted by their index in status.completedIndexes instead; a failed
// pod the podFailurePolicy ignores is not counted, one it fails the Job on sets the
// FailureTarget condition with the count. With backoffLimitPerIndex, it also records the
// failed indexes, and returns the failed pods held until their index's replacement
// exists (perindex.go), which are counted only then.
func (c *Controller) trackFinished(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (*batchv1.Job, map[int]*corev1.Pod, error) {
	u := job.Status.UncountedTerminatedPods
	if u == nil {
		u = &batchv1.UncountedTerminatedPods{}
	}
	uncounted := sets.New(u.Succeeded...).Insert(u.Failed...)
	done := jobindex.Parse(job.Status.CompletedIndexes)
	held := map[int]*corev1.Pod{}
	if hasPerIndexLimit(job) {
		failed := failedIndexes(job, pods)
		job.Status.FailedIndexes = ptrTo(jobindex.Format(failed))
		if !finishing(job) {
			held = c.heldForReplacement(job, pods, uncounted, failed)
		}
	}
	isHeld := func(p *corev1.Pod) bool {
		ix, ok := completionIndex(p, job)
		return ok && held[ix] != nil && held[ix].UID == p.UID
	}
	var newly []*corev1.Pod
	for _, p := range pods {
		if hasTrackingFinalizer(p) && podFinished(p) && !uncounted.Has(p.UID) && !c.released.has(p.UID) &&
			(!byIndex(job, p) || newIndex(job, p, done)) && !isHeld(p) {
			newly = append(newly, p)
		}
	}
	if len(newly) > 0 {
		if err := c.step(ctx, job, "count-pods", fmt.Sprintf("counting %d finished pod(s) of Job %s", len(newly), job.Name),
			stepper.Say("held.job_counts", len(newly), job.Name),
			"they ended; each is counted once, while its finalizer holds it", stepper.Say("why.job_finalizer")); err != nil {
			return nil, nil, err
		}
		c.countNewly(key, job, u, newly, done)
		updated, err := c.writeStatus(ctx, job)
		if err != nil {
			return nil, nil, err
		}
		job = updated
		uncounted = sets.New(u.Succeeded...).Insert(u.Failed...)
	}
	// Succeeded pods of an Indexed Job are counted by the completedIndexes just written;
	// ignored failures are not counted at all: both only let go of their finalizer.
	letGo := func(p *corev1.Pod) bool {
		return uncounted.Has(p.UID) || podFinished(p) && (byIndex(job, p) || ignored(job, p)) && !isHeld(p)
	}
	if err := c.removeFinalizers(ctx, job, pods, letGo); err != nil {
		return nil, nil, err
	}
	job.Status.Succeeded += int32(len(u.Succeeded))
	job.Status.Failed += int32(len(u.Failed))
	job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	return job, held, nil
}

func ptrTo[T any](v T) *T { return &v }

// byIndex says whether a finished pod is counted by its index (an Indexed Job's success).
func byIndex(job *batchv1.Job, p *corev1.Pod) bool {
	return isIndexed(job) && !podFailed(p)
}

// newIndex says whether a succeeded pod completes an index not yet completed.
func newIndex(job *batchv1.Job, p *corev1.Pod, done sets.Set[int]) bool {
	ix, ok := completionIndex(p, job)
	return ok && !done.Has(ix)
}

func ignored(job *batchv1.Job, p *corev1.Pod) bool {
	action, _ := matchFailurePolicy(job, p)
	return podFailed(p) && action == batchv1.PodFailurePolicyActionIgnore
}

// countNewly records newly finished pods in job.Status: UIDs to count, completed indexes,
// and the podFailurePolicy's decision on each failure.
func (c *Controller) countNewly(key string, job *batchv1.Job, u *batchv1.UncountedTerminatedPods, newly []*corev1.Pod, done sets.Set[int]) {
	now := c.cfg.Clock.Now()
	for _, p := range newly {
		switch {
		case byIndex(job, p):
			ix, _ := completionIndex(p, job)
			done.Insert(ix)
			c.backoff.succeeded(key)
		case podFailed(p):
			action, msg := matchFailurePolicy(job, p)
			if action == batchv1.PodFailurePolicyActionIgnore {
				continue // replaced at once, not counted against backoffLimit
			}
			u.Failed = append(u.Failed, p.UID)
			c.backoff.failed(key, p.UID, finishTime(p, now))
			if action == batchv1.PodFailurePolicyActionFailJob {
				setCondition(job, batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue,
					Reason: reasonPodFailurePolicy, Message: msg, LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
			}
		default:
			u.Succeeded = append(u.Succeeded, p.UID)
			c.backoff.succeeded(key)
		}
	}
	job.Status.UncountedTerminatedPods = u
	if isIndexed(job) {
		job.Status.CompletedIndexes = jobindex.Format(done)
		job.Status.Succeeded = int32(done.Len())
	}
}

// removeFinalizers takes the job-tracking finalizer off the pods which pick.
func (c *Controller) removeFinalizers(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod, pick func(*corev1.Pod) bool) error {
	for _, p := range pods {
		if !hasTrackingFinalizer(p) || !pick(p) {
			continue
		}
		if err := c.removeFinalizer(ctx, p); err != nil {
			return fmt.Errorf("pod %s: %w", p.Name, err)
		}
	}
	return nil
}

func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType,
		removeFinalizerPatch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.released.add(p.UID)
	}
	return err
}

// uidSet holds the pods whose finalizer this controller removed and whose informer copy
// may still show it: they are counted already, and a stale cache must not count them
// again (Kubernetes' finalizer expectations).
type uidSet struct {
	mu sync.Mutex
	m  map[types.UID]bool
}

func (s *uidSet) add(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[types.UID]bool{}
	}
	s.m[uid] = true
}

func (s *uidSet) has(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[uid]
}

func (s *uidSet) remove(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, uid)
}

// revisions remembers per Job key the resourceVersion this controller last wrote.
// webkube's resourceVersions are the store's revisions, so they compare as numbers.
type revisions struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (r *revisions) set(key, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]uint64{}
	}
	r.m[key] = max(r.m[key], n)
}

// newer says whether the last write of key is newer than rv.
func (r *revisions) newer(key, rv string) bool {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[key] > n
}

func (r *revisions) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}

// SyncOrphanPod frees a pod still holding the job-tracking finalizer when its Job is gone
// (deleted, or the pod released), so the pod can be deleted.
func (c *Controller) SyncOrphanPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if err != nil || !hasTrackingFinalizer(pod) || c.jobFor(pod) != nil {
		return nil
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "remove-finalizer", Kind: "Pod",
		Namespace: ns, Name: name, Node: pod.Spec.NodeName,
		Message: fmt.Sprintf("removing the job-tracking finalizer from pod %s", name),
		Says:    stepper.Say("held.job_removes_finalizer", name),
		Why:     "no Job owns it any more, so nothing is left to count", Because: stepper.Say("why.job_orphan")}); err != nil {
		return err
	}
	return c.removeFinalizer(ctx, pod)
}

// backoffStore remembers per Job the pods that failed since its last success and when
// the last one did, to delay replacements exponentially (in memory, as Kubernetes does).
// Failures are kept by pod UID: a sync that fails after counting a pod and is retried
// counts it again, and must not double the delay.
type backoffStore struct {
	mu sync.Mutex
	m  map[string]backoffRecord
}

type backoffRecord struct {
	failed      sets.Set[types.UID]
	lastFailure time.Time
}

func newBackoffStore() *backoffStore { return &backoffStore{m: map[string]backoffRecord{}} }

func (b *backoffStore) failed(key string, pod types.UID, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[key]
	if r.failed == nil {
		r.failed = sets.New[types.UID]()
	}
	r.failed.Insert(pod)
	if at.After(r.lastFailure) {
		r.lastFailure = at
	}
	b.m[key] = r
}

func (b *backoffStore) succeeded(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

func (b *backoffStore) forget(key string) { b.succeeded(key) }

// remaining is how long to wait before creating pods: 10 s after the first failure,
// doubling per failure since the last success, at most 6 minutes.
func (b *backoffStore) remaining(key string, now time.Time) time.Duration {
	b.mu.Lock()
	r, ok := b.m[key]
	b.mu.Unlock()
	if !ok || r.failed.Len() == 0 {
		return 0
	}
	delay := DefaultBackoff
	for i := 1; i < r.failed.Len() && delay < MaxBackoff; i++ {
		delay *= 2
	}
	return r.lastFailure.Add(min(delay, MaxBackoff)).Sub(now)
}
