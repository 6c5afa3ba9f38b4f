package podautoscaler

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/stepper"
)

// Sync reconciles one HorizontalPodAutoscaler, then looks again a SyncPeriod later: the
// metrics change without any object changing.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	shared, err := c.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer c.queue.AddAfter(key, c.cfg.SyncPeriod)
	h := shared.DeepCopy()
	err = c.reconcile(ctx, key, h)
	if !apiequality.Semantic.DeepEqual(h.Status, shared.Status) {
		if uerr := c.writeStatus(ctx, h); uerr != nil && err == nil {
			err = fmt.Errorf("status of %s: %w", key, uerr)
		}
	}
	return err
}

// writeStatus writes h's status; on a conflict (the cache lagged our last write) onto the
// newest object, so a rescale's lastScaleTime is not lost.
func (c *Controller) writeStatus(ctx context.Context, h *autoscalingv2.HorizontalPodAutoscaler) error {
	api := c.cfg.Client.AutoscalingV2().HorizontalPodAutoscalers(h.Namespace)
	_, err := api.UpdateStatus(ctx, h, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		return err
	}
	fresh, err := api.Get(ctx, h.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	fresh.Status = h.Status
	_, err = api.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	return err
}

// reconcile decides and applies the replica count, leaving what it saw in h.Status.
func (c *Controller) reconcile(ctx context.Context, key string, h *autoscalingv2.HorizontalPodAutoscaler) error {
	ref := h.Spec.ScaleTargetRef
	scale, err := c.getScale(ctx, h.Namespace, ref)
	if err != nil {
		c.condition(h, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: %v", err)
		c.recorder.Event(h, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		return nil // nothing to do until the target exists; the next period looks again
	}
	c.condition(h, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := scale.Spec.Replicas
	h.Status.CurrentReplicas = scale.Status.Replicas
	h.Status.ObservedGeneration = &h.Generation
	minR := int32(1)
	if h.Spec.MinReplicas != nil {
		minR = *h.Spec.MinReplicas
	}
	if current == 0 && minR != 0 {
		h.Status.DesiredReplicas = 0
		c.condition(h, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
		return nil
	}
	prop, f := c.propose(ctx, h, scale, current)
	if f != nil {
		c.condition(h, autoscalingv2.ScalingActive, corev1.ConditionFalse, f.reason, "the HPA was unable to compute the replica count: %v", f.cause)
		c.recorder.Event(h, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", f.wrapped.Error())
		h.Status.DesiredReplicas = current
		return nil
	}
	c.condition(h, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from %s", prop.source)
	desired := c.normalize(key, h, current, prop.replicas, minR)
	h.Status.DesiredReplicas = desired
	if desired == current {
		return nil
	}
	return c.rescale(ctx, key, h, scale, current, desired, prop)
}

// normalize stabilizes the proposal over the behavior's windows and bounds it by the
// rate policies and min/max, keeping the ScalingLimited condition.
func (c *Controller) normalize(key string, h *autoscalingv2.HorizontalPodAutoscaler, current, proposed, minR int32) int32 {
	now := c.cfg.Clock.Now()
	up, down := rules(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	stable := stabilize(current, proposed, c.recs[key], up, down, now)
	keepSince := now.Add(-maxWindow(up, down))
	recs := []recommendation{{proposed, now}}
	for _, r := range c.recs[key] {
		if r.at.After(keepSince) {
			recs = append(recs, r)
		}
	}
	c.recs[key] = recs
	l := bound(current, stable, minR, h.Spec.MaxReplicas, c.scaleEv[key], up, down, now)
	status := corev1.ConditionFalse
	if l.limited {
		status = corev1.ConditionTrue
	}
	c.condition(h, autoscalingv2.ScalingLimited, status, l.reason, "%s", l.message)
	return l.replicas
}

// rescale announces the change to the step gate, writes the target's scale and records it.
func (c *Controller) rescale(ctx context.Context, key string, h *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale, current, desired int32, prop proposal) error {
	ref := h.Spec.ScaleTargetRef
	reason := prop.reason
	if desired < current {
		reason = "All metrics below target"
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "rescale", Kind: ref.Kind,
		Namespace: h.Namespace, Name: ref.Name,
		Message: fmt.Sprintf("%s: scales %s %d→%d", prop.summary, ref.Name, current, desired),
		Says:    stepper.Say("hpa.held_rescale", prop.metric, prop.current, prop.target, ref.Name, current, desired),
		Why:     fmt.Sprintf("HorizontalPodAutoscaler %s wants %d: %s", h.Name, desired, reason),
		Because: stepper.Say("hpa.why_rescale", h.Name, desired, prop.metric, prop.current, prop.target)}); err != nil {
		return err
	}
	scale = scale.DeepCopy()
	scale.Spec.Replicas = desired
	if err := c.updateScale(ctx, h.Namespace, ref, scale); err != nil {
		c.condition(h, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
		c.recorder.Eventf(h, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
		return err
	}
	c.condition(h, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
	c.recorder.Eventf(h, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
	now := c.cfg.Clock.Now()
	h.Status.LastScaleTime = &metav1.Time{Time: now}
	c.mu.Lock()
	c.scaleEv[key] = append(pruneEvents(c.scaleEv[key], now), scaleEvent{desired - current, now})
	c.mu.Unlock()
	return nil
}

// condition sets one of h's conditions, keeping its transition time when its status stays.
func (c *Controller) condition(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType,
	status corev1.ConditionStatus, reason, format string, args ...any) {
	cond := autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: status, Reason: reason,
		Message: fmt.Sprintf(format, args...), LastTransitionTime: metav1.NewTime(c.cfg.Clock.Now())}
	for i, old := range h.Status.Conditions {
		if old.Type == t {
			if old.Status == status {
				cond.LastTransitionTime = old.LastTransitionTime
			}
			h.Status.Conditions[i] = cond
			return
		}
	}
	h.Status.Conditions = append(h.Status.Conditions, cond)
}

// getScale and updateScale use the target's scale subresource.
func (c *Controller) getScale(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference) (*autoscalingv1.Scale, error) {
	apps := c.cfg.Client.AppsV1()
	switch ref.Kind {
	case "Deployment":
		return apps.Deployments(ns).GetScale(ctx, ref.Name, metav1.GetOptions{})
	case "ReplicaSet":
		return apps.ReplicaSets(ns).GetScale(ctx, ref.Name, metav1.GetOptions{})
	case "StatefulSet":
		return apps.StatefulSets(ns).GetScale(ctx, ref.Name, metav1.GetOptions{})
	case "ReplicationController":
		return c.cfg.Client.CoreV1().ReplicationControllers(ns).GetScale(ctx, ref.Name, metav1.GetOptions{})
	}
	return nil, fmt.Errorf("no scale subresource for kind %q (webkube scales Deployment, ReplicaSet, StatefulSet and ReplicationController)", ref.Kind)
}

func (c *Controller) updateScale(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference, s *autoscalingv1.Scale) error {
	apps := c.cfg.Client.AppsV1()
	var err error
	switch ref.Kind {
	case "Deployment":
		_, err = apps.Deployments(ns).UpdateScale(ctx, ref.Name, s, metav1.UpdateOptions{})
	case "ReplicaSet":
		_, err = apps.ReplicaSets(ns).UpdateScale(ctx, ref.Name, s, metav1.UpdateOptions{})
	case "StatefulSet":
		_, err = apps.StatefulSets(ns).UpdateScale(ctx, ref.Name, s, metav1.UpdateOptions{})
	case "ReplicationController":
		_, err = c.cfg.Client.CoreV1().ReplicationControllers(ns).UpdateScale(ctx, ref.Name, s, metav1.UpdateOptions{})
	}
	return err
}

func quantity(milli int64, res corev1.ResourceName) *apiresource.Quantity {
	if res == corev1.ResourceCPU {
		return apiresource.NewMilliQuantity(milli, apiresource.DecimalSI)
	}
	return apiresource.NewQuantity(milli/1000, apiresource.BinarySI)
}

func describe(name corev1.ResourceName, utilization bool) string {
	if utilization {
		return string(name) + " resource utilization (percentage of request)"
	}
	return string(name) + " resource"
}
