package statefulset

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/history"
	"webkube/cluster/stepper"
)

// newPod is ordinal ord of set from template tmpl at revision rev: named <set>-<ord>, its
// hostname that name and its subdomain the set's Service, so the headless Service gives it
// the DNS name <set>-<ord>.<service>.<ns>.svc.cluster.local.
func newPod(set *appsv1.StatefulSet, tmpl *corev1.PodTemplateSpec, rev string, ord int) *corev1.Pod {
	t := true
	name := fmt.Sprintf("%s-%d", set.Name, ord)
	tmpl = tmpl.DeepCopy()
	lbls := map[string]string{}
	for k, v := range tmpl.Labels {
		lbls[k] = v
	}
	lbls[appsv1.StatefulSetPodNameLabel] = name
	lbls[appsv1.PodIndexLabel] = strconv.Itoa(ord)
	lbls[history.HashLabel] = rev
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: set.Namespace, Labels: lbls, Annotations: tmpl.Annotations, Finalizers: tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: set.Name, UID: set.UID, Controller: &t, BlockOwnerDeletion: &t}},
		},
		Spec: tmpl.Spec,
	}
	pod.Spec.Hostname, pod.Spec.Subdomain = name, set.Spec.ServiceName
	for _, claim := range set.Spec.VolumeClaimTemplates {
		v := corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: claimName(claim.Name, set.Name, ord)}}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == claim.Name {
				pod.Spec.Volumes[i], replaced = v, true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, v)
		}
	}
	return pod
}

// claimName is the PersistentVolumeClaim of one claim template for one ordinal.
func claimName(template, set string, ord int) string {
	return fmt.Sprintf("%s-%s-%d", template, set, ord)
}

// createPod creates ordinal ord: pods below the partition keep the current revision
// while a rolling update is partitioned, the others get the update revision.
func (c *Controller) createPod(ctx context.Context, key string, p *plan, ord int) error {
	set := p.set
	tmpl, rev := &set.Spec.Template, p.update.Name
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ord < p.start+p.partition {
		tmpl, rev = p.currentTemplate, p.current.Name
	}
	pod := newPod(set, tmpl, rev, ord)
	why := fmt.Sprintf("ordinal %d is missing and spec.replicas is %d", ord, *set.Spec.Replicas)
	because := stepper.Say("sets.why_sts_missing", ord, *set.Spec.Replicas)
	if p.monotonic && ord > p.start {
		prev := fmt.Sprintf("%s-%d", set.Name, ord-1)
		why += fmt.Sprintf("; %s before it is running and ready (OrderedReady)", prev)
		because = stepper.Say("sets.why_sts_missing_ordered", ord, *set.Spec.Replicas, prev)
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "create-pod", Kind: "StatefulSet",
		Namespace: set.Namespace, Name: set.Name,
		Message: fmt.Sprintf("creating pod %s for StatefulSet %s", pod.Name, set.Name), Why: why, Because: because}); err != nil {
		return err
	}
	if err := c.createClaims(ctx, set, ord); err != nil {
		return err
	}
	c.exp.ExpectCreations(key, 1)
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		c.exp.CreationObserved(key)
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache had not shown it yet
		}
		if ctx.Err() == nil {
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		}
		return err
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) deletePod(ctx context.Context, key string, set *appsv1.StatefulSet, pod *corev1.Pod, action, why string, because stepper.Text) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: action, Kind: "Pod",
		Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName,
		Message: fmt.Sprintf("deleting pod %s of StatefulSet %s", pod.Name, set.Name), Why: why, Because: because}); err != nil {
		return err
	}
	podKey := pod.Namespace + "/" + pod.Name
	c.exp.ExpectDeletions(key, []string{podKey})
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil {
		c.exp.DeletionObserved(key, podKey)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if ctx.Err() == nil {
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		}
		return err
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

// updateStatus writes st unless it is already there; on a conflict it retries once on a
// fresh copy.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) error {
	if apiequality.Semantic.DeepEqual(set.Status, st) {
		return nil
	}
	client := c.client.AppsV1().StatefulSets(set.Namespace)
	for attempt := 0; ; attempt++ {
		set.Status = st
		_, err := client.UpdateStatus(ctx, set, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return err
		}
		fresh, gerr := client.Get(ctx, set.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		set = fresh
		st.ObservedGeneration = min(st.ObservedGeneration, set.Generation)
	}
}
