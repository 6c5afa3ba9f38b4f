package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// annSelectedNode tells a provisioner of a WaitForFirstConsumer class where the claim's
// first pod goes.
const annSelectedNode = "volume.kubernetes.io/selected-node"

// volumePreFilter is kube-scheduler's VolumeBinding PreFilter: a pod waits while a claim it
// uses is missing, being deleted, or unbound with Immediate binding (the PV controller
// binds it first). It returns kube-scheduler's reason, "" when the pod may go on, and the
// unbound WaitForFirstConsumer claims the chosen node must be told to.
func (s *Scheduler) volumePreFilter(pod *corev1.Pod) (reason string, delayed []*corev1.PersistentVolumeClaim) {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		pvc, err := s.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if err != nil {
			return fmt.Sprintf("persistentvolumeclaim %q not found", name), nil
		}
		if pvc.DeletionTimestamp != nil {
			return fmt.Sprintf("persistentvolumeclaim %q is being deleted", name), nil
		}
		if pvc.Spec.VolumeName != "" {
			continue
		}
		if s.waitsForConsumer(pvc) {
			delayed = append(delayed, pvc)
			continue
		}
		return "pod has unbound immediate PersistentVolumeClaims", nil
	}
	return "", delayed
}

func (s *Scheduler) waitsForConsumer(pvc *corev1.PersistentVolumeClaim) bool {
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class == "" {
		return false
	}
	sc, err := s.classes.Get(class)
	return err == nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

// selectNode records the chosen node on the pod's delayed claims, so their provisioner
// makes the volume; the kubelet starts the pod once they are bound.
func (s *Scheduler) selectNode(ctx context.Context, claims []*corev1.PersistentVolumeClaim, node string) error {
	for _, pvc := range claims {
		if pvc.Annotations[annSelectedNode] == node {
			continue
		}
		pvc = pvc.DeepCopy()
		if pvc.Annotations == nil {
			pvc.Annotations = map[string]string{}
		}
		pvc.Annotations[annSelectedNode] = node
		_, err := s.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, pvc, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// volumeFailure is the message of a pod the volume PreFilter stopped, in kube-scheduler's words.
func volumeFailure(reason string, nodes int) string {
	return fmt.Sprintf("0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d %s.",
		nodes, reason, nodes, nodes, reasonNotHelpful)
}
