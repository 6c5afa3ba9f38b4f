package statefulset

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/controllers/history"
	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
)

// plan is one sync's view of a set: its pods by ordinal and the two revisions.
type plan struct {
	set              *appsv1.StatefulSet
	current, update  *appsv1.ControllerRevision
	currentTemplate  *corev1.PodTemplateSpec
	replicas         []*corev1.Pod // index i holds ordinal start+i; nil: missing
	condemned        []*corev1.Pod // ordinals out of range, highest first
	start, partition int
	monotonic        bool // OrderedReady: one change at a time, each waiting for readiness
}

func owner(set *appsv1.StatefulSet) history.Owner {
	return history.Owner{Object: set, GVK: controllerKind, Selector: set.Spec.Selector, Labels: set.Spec.Template.Labels,
		Template: set.Spec.Template, Collisions: set.Status.CollisionCount, HistorySize: *set.Spec.RevisionHistoryLimit}
}

func (c *Controller) sync(ctx context.Context, key string, set *appsv1.StatefulSet, pods []*corev1.Pod) error {
	o := owner(set)
	if o.Collisions != nil {
		o.Collisions = ptr(*o.Collisions)
	}
	revs, err := c.history.Owned(o)
	if err != nil {
		return err
	}
	update, err := c.history.Update(ctx, o, revs)
	if err != nil {
		return fmt.Errorf("revision: %w", err)
	}
	p := &plan{set: set, update: update, current: update, currentTemplate: &set.Spec.Template,
		monotonic: set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement}
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision && r.Name != update.Name {
			if t, err := history.Template(r); err == nil {
				p.current, p.currentTemplate = r, t
			}
		}
	}
	p.split(pods)
	actErr := c.act(ctx, key, p)
	st := p.status(c.cfg.Clock.Now(), o.Collisions)
	if err := c.updateStatus(ctx, set, st); err != nil {
		return err
	}
	keep := map[string]bool{st.CurrentRevision: true, st.UpdateRevision: true}
	for _, pod := range pods {
		keep[pod.Labels[history.HashLabel]] = true
	}
	if err := c.history.Truncate(ctx, o, revs, keep); err != nil {
		return err
	}
	if actErr == nil && set.Spec.MinReadySeconds > 0 && st.AvailableReplicas < st.ReadyReplicas {
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return actErr
}

func (p *plan) split(pods []*corev1.Pod) {
	set := p.set
	if set.Spec.Ordinals != nil {
		p.start = int(set.Spec.Ordinals.Start)
	}
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		p.partition = int(*ru.Partition)
	}
	p.replicas = make([]*corev1.Pod, int(*set.Spec.Replicas))
	for _, pod := range pods {
		ord, _ := ordinalOf(set, pod)
		if i := ord - p.start; i >= 0 && i < len(p.replicas) {
			p.replicas[i] = pod
		} else {
			p.condemned = append(p.condemned, pod)
		}
	}
	sort.Slice(p.condemned, func(i, j int) bool {
		a, _ := ordinalOf(set, p.condemned[i])
		b, _ := ordinalOf(set, p.condemned[j])
		return a > b
	})
}

// act makes one round of changes, as kube's defaultStatefulSetControl: first every ordinal
// gets a running, ready pod (in order, waiting for each when OrderedReady), then pods past
// the replica count go (highest first), then the rolling update replaces pods from the
// highest ordinal down to the partition, one at a time.
func (c *Controller) act(ctx context.Context, key string, p *plan) error {
	set := p.set
	if err := c.reconcileClaimOwners(ctx, p); err != nil {
		return err
	}
	for i, pod := range p.replicas {
		ord := p.start + i
		switch {
		case pod == nil:
			if err := c.createPod(ctx, key, p, ord); err != nil || p.monotonic {
				return err
			}
		case finished(pod) && pod.DeletionTimestamp == nil:
			why := fmt.Sprintf("it is %s; the StatefulSet recreates it with the same name", pod.Status.Phase)
			if err := c.deletePod(ctx, key, set, pod, "recreate-pod", why,
				stepper.Say("sets.why_sts_finished", string(pod.Status.Phase))); err != nil || p.monotonic {
				return err
			}
		case pod.DeletionTimestamp != nil, !healthy(pod, set, c.cfg.Clock.Now()):
			if p.monotonic {
				return nil // OrderedReady: the next ordinal waits for this one
			}
		}
	}
	for _, pod := range p.condemned {
		if pod.DeletionTimestamp != nil {
			if p.monotonic {
				return nil
			}
			continue
		}
		// OrderedReady: an unhealthy pod waits its turn behind the first unhealthy one.
		if p.monotonic && !healthy(pod, set, c.cfg.Clock.Now()) && pod != p.firstUnhealthy(c.cfg.Clock.Now()) {
			return nil
		}
		why := fmt.Sprintf("its ordinal is past spec.replicas %d; the highest ordinal goes first", *set.Spec.Replicas)
		if err := c.deletePod(ctx, key, set, pod, "scale-down", why,
			stepper.Say("sets.why_sts_condemned", *set.Spec.Replicas)); err != nil || p.monotonic {
			return err
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	for i := len(p.replicas) - 1; i >= p.partition; i-- {
		pod := p.replicas[i]
		if pod == nil {
			return nil
		}
		if revisionOf(pod) != p.update.Name && pod.DeletionTimestamp == nil {
			why := fmt.Sprintf("it runs revision %s, the set's template is now %s; ordinals ≥ partition %d are updated, highest first",
				revisionOf(pod), p.update.Name, p.partition)
			return c.deletePod(ctx, key, set, pod, "rolling-update", why,
				stepper.Say("sets.why_sts_update", revisionOf(pod), p.update.Name, p.partition))
		}
		if pod.DeletionTimestamp != nil || !healthy(pod, set, c.cfg.Clock.Now()) {
			return nil
		}
	}
	return nil
}

func (p *plan) firstUnhealthy(now time.Time) *corev1.Pod {
	for _, pod := range p.replicas {
		if pod == nil || pod.DeletionTimestamp != nil || !healthy(pod, p.set, now) {
			return pod
		}
	}
	for _, pod := range p.condemned {
		if pod.DeletionTimestamp != nil || !healthy(pod, p.set, now) {
			return pod
		}
	}
	return nil
}

// status counts the set's pods as kube's computeReplicaStatus does and finishes a
// rolling update once every pod runs the update revision and is ready.
func (p *plan) status(now time.Time, collisions *int32) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{ObservedGeneration: p.set.Generation, CollisionCount: collisions,
		CurrentRevision: p.current.Name, UpdateRevision: p.update.Name, Conditions: p.set.Status.Conditions}
	for _, pod := range append(append([]*corev1.Pod{}, p.replicas...), p.condemned...) {
		if pod == nil {
			continue
		}
		st.Replicas++
		if runningAndReady(pod) {
			st.ReadyReplicas++
			if available(pod, p.set, now) {
				st.AvailableReplicas++
			}
		}
		if pod.DeletionTimestamp == nil {
			if revisionOf(pod) == st.CurrentRevision {
				st.CurrentReplicas++
			}
			if revisionOf(pod) == st.UpdateRevision {
				st.UpdatedReplicas++
			}
		}
	}
	// Under OnDelete kube never moves currentRevision on; webkube does the same.
	if p.set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas, st.CurrentRevision = st.UpdatedReplicas, st.UpdateRevision
	}
	return st
}

func revisionOf(pod *corev1.Pod) string { return pod.Labels[history.HashLabel] }

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

func runningAndReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && podstatus.Ready(pod)
}

// available: ready for minReadySeconds.
func available(pod *corev1.Pod, set *appsv1.StatefulSet, now time.Time) bool {
	if !runningAndReady(pod) {
		return false
	}
	if set.Spec.MinReadySeconds == 0 {
		return true
	}
	since := podstatus.ReadyCondition(pod).LastTransitionTime
	return !since.Add(time.Duration(set.Spec.MinReadySeconds) * time.Second).After(now)
}

// healthy: running, ready and available, and not on its way out.
func healthy(pod *corev1.Pod, set *appsv1.StatefulSet, now time.Time) bool {
	return pod.DeletionTimestamp == nil && available(pod, set, now)
}

func ptr[T any](v T) *T { return &v }
