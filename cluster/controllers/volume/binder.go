package volume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"webkube/cluster/printers"
	"webkube/cluster/stepper"
)

var everything = labels.Everything()

// Annotations the PV controller writes, as kube-controller-manager's.
const (
	annBindCompleted          = "pv.kubernetes.io/bind-completed"
	annBoundByController      = "pv.kubernetes.io/bound-by-controller"
	annProvisionedBy          = "pv.kubernetes.io/provisioned-by"
	annStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	annSelectedNode           = "volume.kubernetes.io/selected-node"
)

// syncClaim binds a pending claim to a volume (or has one provisioned), completes a
// half-done binding, and releases a deleted claim's finalizer once no pod uses it.
func (c *Controller) syncClaim(ctx context.Context, ns, name string) error {
	pvc, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pvc.DeletionTimestamp != nil {
		return c.releaseClaimFinalizer(ctx, pvc)
	}
	if pvc.Spec.VolumeName != "" {
		return c.syncBoundClaim(ctx, pvc)
	}
	if pv := c.findMatch(pvc); pv != nil {
		return c.bind(ctx, pvc, pv, true)
	}
	return c.noMatch(ctx, pvc)
}

// noMatch says why a claim waits, or provisions a volume when its class is ours.
func (c *Controller) noMatch(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	className := printers.ClaimClass(pvc)
	if className == "" {
		c.event(pvc, corev1.EventTypeNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
		return nil
	}
	class, err := c.classes.Get(className)
	if apierrors.IsNotFound(err) {
		c.event(pvc, corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("storageclass.storage.k8s.io %q not found", className))
		return nil
	}
	if err != nil {
		return err
	}
	if class.Provisioner != ProvisionerName {
		c.event(pvc, corev1.EventTypeNormal, "ExternalProvisioning", fmt.Sprintf("Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", class.Provisioner))
		return nil
	}
	if class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer && pvc.Annotations[annSelectedNode] == "" {
		c.event(pvc, corev1.EventTypeNormal, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
		return nil
	}
	return c.provision(ctx, pvc, class)
}

// findMatch is the binder's choice: a volume pre-bound to this claim, else the smallest
// free volume of the claim's class and volume mode that offers every access mode the
// claim asks for, at least its storage, and matches its selector.
func (c *Controller) findMatch(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	pvs, err := c.volumes.List(everything)
	if err != nil {
		return nil
	}
	return FindMatch(pvc, pvs)
}

// FindMatch is findMatch on a given list of volumes.
func FindMatch(pvc *corev1.PersistentVolumeClaim, pvs []*corev1.PersistentVolume) *corev1.PersistentVolume {
	var best *corev1.PersistentVolume
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	var sel labels.Selector
	if pvc.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil {
			return nil
		}
		sel = s
	}
	for _, pv := range pvs {
		preBound := false
		if ref := pv.Spec.ClaimRef; ref != nil {
			if ref.Namespace != pvc.Namespace || ref.Name != pvc.Name || (ref.UID != "" && ref.UID != pvc.UID) {
				continue
			}
			preBound = true
		}
		if pv.DeletionTimestamp != nil || pv.Status.Phase == corev1.VolumeReleased || pv.Status.Phase == corev1.VolumeFailed {
			continue
		}
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		if printers.VolumeClass(pv) != printers.ClaimClass(pvc) || !sameMode(pv.Spec.VolumeMode, pvc.Spec.VolumeMode) ||
			!hasModes(pv.Spec.AccessModes, pvc.Spec.AccessModes) || size.Cmp(want) < 0 ||
			(sel != nil && !sel.Matches(labels.Set(pv.Labels))) {
			continue
		}
		if preBound {
			return pv
		}
		if best == nil {
			best = pv
			continue
		}
		bestSize := best.Spec.Capacity[corev1.ResourceStorage]
		if size.Cmp(bestSize) < 0 || (size.Cmp(bestSize) == 0 && pv.Name < best.Name) {
			best = pv
		}
	}
	return best
}

func sameMode(a, b *corev1.PersistentVolumeMode) bool {
	mode := func(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
		if m == nil {
			return corev1.PersistentVolumeFilesystem
		}
		return *m
	}
	return mode(a) == mode(b)
}

func hasModes(have, want []corev1.PersistentVolumeAccessMode) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// bind writes the binding on both sides, the volume first (as kube's binder: a crash in
// between leaves a volume claimed by a claim that finds it on its next sync).
func (c *Controller) bind(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, chosen bool) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "bind-claim", Kind: "PersistentVolumeClaim",
		Namespace: pvc.Namespace, Name: pvc.Name,
		Message: fmt.Sprintf("binding claim %s/%s to volume %s", pvc.Namespace, pvc.Name, pv.Name),
		Says:    stepper.Say("vol.held_bind", pvc.Namespace, pvc.Name, pv.Name),
		Why:     "it is the smallest volume of the claim's class that offers its access modes and storage",
		Because: stepper.Say("vol.why_bind")}); err != nil {
		return err
	}
	pv, err := c.claimVolume(ctx, pvc, pv, chosen)
	if err != nil {
		return err
	}
	return c.completeClaim(ctx, pvc, pv, chosen)
}

// claimVolume sets the volume's claimRef (if not yet) and its phase Bound.
func (c *Controller) claimVolume(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, chosen bool) (*corev1.PersistentVolume, error) {
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != pvc.UID {
		pv = pv.DeepCopy()
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace,
			Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
		if chosen && ref == nil {
			setAnn(&pv.ObjectMeta, annBoundByController, "yes")
		}
		var err error
		if pv, err = c.cfg.Client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	if pv.Status.Phase != corev1.VolumeBound {
		pv = pv.DeepCopy()
		pv.Status.Phase, pv.Status.Message, pv.Status.Reason = corev1.VolumeBound, "", ""
		return c.cfg.Client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{})
	}
	return pv, nil
}

// completeClaim records the volume on the claim and its status Bound with the volume's
// access modes and capacity.
func (c *Controller) completeClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, chosen bool) error {
	if pvc.Spec.VolumeName != pv.Name || pvc.Annotations[annBindCompleted] != "yes" {
		pvc = pvc.DeepCopy()
		if chosen && pvc.Spec.VolumeName == "" {
			setAnn(&pvc.ObjectMeta, annBoundByController, "yes")
		}
		pvc.Spec.VolumeName = pv.Name
		setAnn(&pvc.ObjectMeta, annBindCompleted, "yes")
		var err error
		if pvc, err = c.cfg.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		return nil
	}
	pvc = pvc.DeepCopy()
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.AccessModes = pv.Spec.AccessModes
	pvc.Status.Capacity = pv.Spec.Capacity
	_, err := c.cfg.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	return err
}

// syncBoundClaim finishes a binding the claim names: a claim created with volumeName, or
// one whose last sync stopped half way. A claim whose volume is gone is Lost.
func (c *Controller) syncBoundClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	pv, err := c.volumes.Get(pvc.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		if pvc.Status.Phase == corev1.ClaimBound {
			c.event(pvc, corev1.EventTypeWarning, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
			pvc = pvc.DeepCopy()
			pvc.Status.Phase = corev1.ClaimLost
			_, err = c.cfg.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
		}
		return err
	}
	if err != nil {
		return err
	}
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != pvc.Namespace || ref.Name != pvc.Name || (ref.UID != "" && ref.UID != pvc.UID)) {
		c.event(pvc, corev1.EventTypeWarning, "FailedBinding", fmt.Sprintf("volume %q already bound to a different claim.", pv.Name))
		return nil
	}
	chosen := pvc.Annotations[annBoundByController] == "yes"
	if pv.Spec.ClaimRef == nil {
		return c.bind(ctx, pvc, pv, false)
	}
	if pv, err = c.claimVolume(ctx, pvc, pv, chosen); err != nil {
		return err
	}
	return c.completeClaim(ctx, pvc, pv, chosen)
}

func setAnn(m *metav1.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}

func (c *Controller) event(obj *corev1.PersistentVolumeClaim, typ, reason, msg string) {
	if c.rec != nil {
		c.rec.Event(obj, typ, reason, msg)
	}
}
