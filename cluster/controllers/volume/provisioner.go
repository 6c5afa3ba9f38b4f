package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/printers"
	"webkube/cluster/stepper"
)

const (
	// ProvisionerName is the provisioner of webkube's local-path volumes.
	ProvisionerName = "webkube.io/local-path"
	// DefaultClassName is the default StorageClass webkube creates, as kind and minikube
	// call theirs.
	DefaultClassName = "standard"
)

// DefaultClass is the class webkube makes at start when missing: Immediate binding, so a
// claim is Bound as soon as it is created, as most tutorials show (every node of webkube
// runs on one machine, so waiting for the first pod to pick a node buys nothing), and
// Delete, so a claim's data goes with it unless the learner chooses Retain.
func DefaultClass() *storagev1.StorageClass {
	reclaim := corev1.PersistentVolumeReclaimDelete
	mode := storagev1.VolumeBindingImmediate
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: DefaultClassName, Annotations: map[string]string{printers.IsDefaultClassAnnotation: "true"}},
		Provisioner:       ProvisionerName,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
}

func (c *Controller) ensureDefaultClass(ctx context.Context) error {
	_, err := c.cfg.Client.StorageV1().StorageClasses().Get(ctx, DefaultClassName, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = c.cfg.Client.StorageV1().StorageClasses().Create(ctx, DefaultClass(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// provision makes a directory under VolumesDir for the claim and a hostPath volume for it,
// already claimed by it (as external provisioners do), named pvc-<claim uid>.
func (c *Controller) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass) error {
	name := "pvc-" + string(pvc.UID)
	if _, err := c.volumes.Get(name); err == nil {
		return nil // made already; the binding follows from its event
	}
	if pvc.Annotations[annStorageProvisioner] != ProvisionerName {
		pvc = pvc.DeepCopy()
		setAnn(&pvc.ObjectMeta, annStorageProvisioner, ProvisionerName)
		setAnn(&pvc.ObjectMeta, annBetaStorageProvisioner, ProvisionerName)
		var err error
		if pvc, err = c.cfg.Client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	dir := filepath.Join(c.cfg.VolumesDir, name+"_"+pvc.Namespace+"_"+pvc.Name)
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "provision-volume", Kind: "PersistentVolumeClaim",
		Namespace: pvc.Namespace, Name: pvc.Name,
		Message: fmt.Sprintf("provisioning volume %s for claim %s/%s in %s", name, pvc.Namespace, pvc.Name, dir),
		Says:    stepper.Say("vol.held_provision", name, pvc.Namespace, pvc.Name, dir),
		Why:     fmt.Sprintf("no volume fits the claim and its StorageClass %s is provisioned by %s", class.Name, ProvisionerName),
		Because: stepper.Say("vol.why_provision", class.Name, ProvisionerName)}); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("provisioning %s: %w", name, err)
	}
	// Any container user must be able to write, as with local-path-provisioner.
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("provisioning %s: %w", name, err)
	}
	pv := provisionedVolume(name, dir, pvc, class)
	_, err := c.cfg.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		c.event(pvc, corev1.EventTypeWarning, "ProvisioningFailed", err.Error())
		return err
	}
	c.event(pvc, corev1.EventTypeNormal, "ProvisioningSucceeded", fmt.Sprintf("Successfully provisioned volume %s", name))
	return nil
}

func provisionedVolume(name, dir string, pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass) *corev1.PersistentVolume {
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	dirType := corev1.HostPathDirectoryOrCreate
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: ProvisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			MountOptions:                  class.MountOptions,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace,
				Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
		},
	}
}

// removeDir deletes a provisioned volume's directory; only one of ours, under VolumesDir.
func (c *Controller) removeDir(pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil {
		return fmt.Errorf("volume %s has no hostPath", pv.Name)
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	if !strings.HasPrefix(dir, filepath.Clean(c.cfg.VolumesDir)+string(filepath.Separator)) {
		return fmt.Errorf("volume %s: %s is not under %s", pv.Name, dir, c.cfg.VolumesDir)
	}
	return os.RemoveAll(dir)
}
