package replicaset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/podstatus"
)

func (c *Controller) calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	now := c.cfg.Clock.Now()
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	for _, p := range pods {
		full := true
		for k, v := range rs.Spec.Template.Labels {
			if p.Labels[k] != v {
				full = false
				break
			}
		}
		if full {
			st.FullyLabeledReplicas++
		}
		if podstatus.Ready(p) {
			st.ReadyReplicas++
			if minReady == 0 || !readyTime(p).Add(minReady).After(now) {
				st.AvailableReplicas++
			}
		}
	}
	failure := -1
	for i, cond := range st.Conditions {
		if cond.Type == appsv1.ReplicaSetReplicaFailure {
			failure = i
		}
	}
	switch {
	case manageErr != nil && failure < 0:
		reason := "FailedCreate"
		if len(pods) > int(*rs.Spec.Replicas) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure], st.Conditions[failure+1:]...)
	}
	st.ObservedGeneration = rs.Generation
	return st
}

// updateStatus writes st unless it is already there; on a conflict it retries once on a
// fresh copy, as the status is ours alone to write.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if apiequality.Semantic.DeepEqual(rs.Status, st) {
		return rs, nil
	}
	for attempt := 0; ; attempt++ {
		rs.Status = st
		updated, err := c.src.UpdateStatus(ctx, rs)
		if err == nil {
			return updated, nil
		}
		if apierrors.IsNotFound(err) {
			return rs, nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return nil, err
		}
		fresh, gerr := c.src.Fetch(ctx, rs.Namespace, rs.Name)
		if gerr != nil {
			return nil, gerr
		}
		rs = fresh
		st.ObservedGeneration = min(st.ObservedGeneration, rs.Generation)
	}
}
