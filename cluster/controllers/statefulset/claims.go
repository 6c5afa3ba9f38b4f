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
