package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// createClaims gives ordinal ord one PersistentVolumeClaim per claim template, named
// <template>-<set>-<ord>, unless it exists: a claim outlives its pod and is found again
// when the ordinal comes back (scale down keeps it, as whenScaled: Retain). With
// whenDeleted: Delete the set owns its claims, so the garbage collector deletes them with it.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, ord int) error {
	for _, tmpl := range set.Spec.VolumeClaimTemplates {
		name := claimName(tmpl.Name, set.Name, ord)
		if _, err := c.claims.PersistentVolumeClaims(set.Namespace).Get(name); err == nil {
			continue
		}
		claim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: set.Namespace, Labels: map[string]string{},
				Annotations: tmpl.Annotations},
			Spec: *tmpl.Spec.DeepCopy(),
		}
		for k, v := range tmpl.Labels {
			claim.Labels[k] = v
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				claim.Labels[k] = v
			}
		}
		if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			t := true
			claim.OwnerReferences = []metav1.OwnerReference{{APIVersion: controllerKind.GroupVersion().String(),
				Kind: controllerKind.Kind, Name: set.Name, UID: set.UID, BlockOwnerDeletion: &t}}
		}
		_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, claim, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s-%d in StatefulSet %s failed error: %v",
				name, set.Name, ord, set.Name, err)
			return fmt.Errorf("claim %s: %w", name, err)
		}
		if err == nil {
			c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s-%d in StatefulSet %s success",
				name, set.Name, ord, set.Name)
		}
	}
	return nil
}

// reconcileClaimOwners keeps each pod's claims owned as persistentVolumeClaimRetentionPolicy
// says, as kube's StatefulSet controller: whenDeleted: Delete makes the set an owner (the
// garbage collector deletes the claims with it); whenScaled: Delete makes a condemned pod
// (ordinal past replicas) the owner of its claims before it is deleted, so they go with it;
// Retain takes those references away again. Other owners are kept.
func (c *Controller) reconcileClaimOwners(ctx context.Context, p *plan) error {
	set := p.set
	if len(set.Spec.VolumeClaimTemplates) == 0 || set.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		return nil
	}
	for _, pods := range []struct {
		list      []*corev1.Pod
		condemned bool
	}{{p.replicas, false}, {p.condemned, true}} {
		for _, pod := range pods.list {
			if pod == nil {
				continue
			}
			if err := c.ownClaims(ctx, set, pod, pods.condemned); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Controller) ownClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, condemned bool) error {
	policy := set.Spec.PersistentVolumeClaimRetentionPolicy
	ord, ok := ordinalOf(set, pod)
	if !ok {
		return nil
	}
	for _, tmpl := range set.Spec.VolumeClaimTemplates {
		claim, err := c.claims.PersistentVolumeClaims(set.Namespace).Get(claimName(tmpl.Name, set.Name, ord))
		if err != nil {
			continue // not made yet, or deleted by hand
		}
		var refs []metav1.OwnerReference
		for _, r := range claim.OwnerReferences {
			if r.UID != set.UID && !(r.Kind == "Pod" && r.Name == pod.Name) {
				refs = append(refs, r)
			}
		}
		if policy.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			refs = append(refs, metav1.OwnerReference{APIVersion: controllerKind.GroupVersion().String(),
				Kind: controllerKind.Kind, Name: set.Name, UID: set.UID})
		}
		if condemned && policy.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			refs = append(refs, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID})
		}
		if sameOwners(refs, claim.OwnerReferences) {
			continue
		}
		claim = claim.DeepCopy()
		claim.OwnerReferences = refs
		if _, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, claim, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("claim %s: owner references: %w", claim.Name, err)
		}
	}
	return nil
}

// sameOwners compares owner references by UID, in any order.
func sameOwners(a, b []metav1.OwnerReference) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, r := range a {
		seen[string(r.UID)] = true
	}
	for _, r := range b {
		if !seen[string(r.UID)] {
			return false
		}
	}
	return true
}
