package volume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/stepper"
)

// Finalizers of kube's StorageObjectInUseProtection (added by the API server at create).
const (
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	PVProtectionFinalizer  = "kubernetes.io/pv-protection"
)

// syncVolume keeps a volume's phase (Available, Bound, Released), reclaims it when its
// claim is gone, and lets a deleted volume go once it is not bound.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ref := pv.Spec.ClaimRef
	switch {
	case ref == nil || ref.UID == "":
		// Free, or pre-bound to a claim that the claim's sync binds.
		if pv.DeletionTimestamp != nil {
			return c.dropFinalizer(ctx, pv)
		}
		return c.setPhase(ctx, pv, corev1.VolumeAvailable, "")
	}
	claimGone, err := c.claimGone(ctx, ref)
	if err != nil {
		return err
	}
	if !claimGone {
		if pv.DeletionTimestamp != nil && pv.Status.Phase != corev1.VolumeBound {
			return c.dropFinalizer(ctx, pv)
		}
		return nil // the claim's sync completes the binding
	}
	if pv.DeletionTimestamp != nil {
		return c.dropFinalizer(ctx, pv)
	}
	return c.reclaim(ctx, pv)
}

// claimGone reports whether the claim ref names is gone (or replaced by a new claim of
// the same name). A "gone" from the cache is checked live before any data is deleted.
func (c *Controller) claimGone(ctx context.Context, ref *corev1.ObjectReference) (bool, error) {
	pvc, err := c.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name)
	if err == nil && pvc.UID == ref.UID {
		return false, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	live, err := c.cfg.Client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return live.UID != ref.UID, nil
}

// reclaim handles a volume whose claim is gone, per its reclaim policy: Retain keeps it
// (and its data) Released until an administrator frees it; Delete removes a volume this
// provisioner made with its directory; other volumes cannot be deleted by webkube.
func (c *Controller) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete:
		if pv.Annotations[annProvisionedBy] != ProvisionerName {
			return c.setPhase(ctx, pv, corev1.VolumeFailed, fmt.Sprintf("error getting deleter volume plugin for volume %q: no deletable volume plugin matched", pv.Name))
		}
		if err := c.setPhase(ctx, pv, corev1.VolumeReleased, ""); err != nil {
			return err
		}
		if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "delete-volume", Kind: "PersistentVolume", Name: pv.Name,
			Message: fmt.Sprintf("deleting volume %s and its directory %s", pv.Name, pv.Spec.HostPath.Path),
			Says:    stepper.Say("vol.held_delete", pv.Name, pv.Spec.HostPath.Path),
			Why:     "its claim is gone and its reclaim policy is Delete",
			Because: stepper.Say("vol.why_delete")}); err != nil {
			return err
		}
		if err := c.removeDir(pv); err != nil {
			return err
		}
		err := c.cfg.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pv.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case corev1.PersistentVolumeReclaimRetain:
		return c.setPhase(ctx, pv, corev1.VolumeReleased, "")
	}
	return c.setPhase(ctx, pv, corev1.VolumeFailed, fmt.Sprintf("reclaim policy %s is not supported by webkube", pv.Spec.PersistentVolumeReclaimPolicy))
}

func (c *Controller) setPhase(ctx context.Context, pv *corev1.PersistentVolume, phase corev1.PersistentVolumePhase, msg string) error {
	if pv.Status.Phase == phase && pv.Status.Message == msg {
		return nil
	}
	pv = pv.DeepCopy()
	pv.Status.Phase, pv.Status.Message, pv.Status.Reason = phase, msg, ""
	if phase == corev1.VolumeFailed {
		pv.Status.Reason = "VolumeFailedDelete"
	}
	_, err := c.cfg.Client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{})
	return err
}

// dropFinalizer is the pv-protection controller: a volume no claim is bound to may go.
func (c *Controller) dropFinalizer(ctx context.Context, pv *corev1.PersistentVolume) error {
	if !removeString(&pv.Finalizers, PVProtectionFinalizer, true) {
		return nil
	}
	pv = pv.DeepCopy()
	removeString(&pv.Finalizers, PVProtectionFinalizer, false)
	_, err := c.cfg.Client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// releaseClaimFinalizer is the pvc-protection controller: a claim being deleted keeps its
// finalizer while any pod that is not finished uses it.
func (c *Controller) releaseClaimFinalizer(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if !removeString(&pvc.Finalizers, PVCProtectionFinalizer, true) {
		return nil
	}
	cached, err := c.pods.Pods(pvc.Namespace).List(everything)
	if err != nil {
		return err
	}
	for _, p := range cached {
		if uses(p, pvc.Name) {
			return nil // still in use; the pod's deletion brings us back
		}
	}
	// The cache may not have seen a pod created just before the claim's deletion: ask the
	// API server before letting the claim go, as kube's pvc-protection controller does.
	live, err := c.cfg.Client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range live.Items {
		if uses(&live.Items[i], pvc.Name) {
			return nil
		}
	}
	pvc = pvc.DeepCopy()
	removeString(&pvc.Finalizers, PVCProtectionFinalizer, false)
	_, err = c.cfg.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// uses says whether p, not finished, mounts the claim.
func uses(p *corev1.Pod, claim string) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
			return true
		}
	}
	return false
}

// removeString removes s from *list (only reports whether it is there when dryRun).
func removeString(list *[]string, s string, dryRun bool) bool {
	for i, v := range *list {
		if v == s {
			if !dryRun {
				*list = append((*list)[:i:i], (*list)[i+1:]...)
			}
			return true
		}
	}
	return false
}
