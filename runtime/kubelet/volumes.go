package kubelet

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// claimDirs resolves the pod's PersistentVolumeClaim volumes to the host directories of
// their bound volumes (hostPath or local), keyed by pod volume name. A claim that is
// missing or not yet bound is an error: the pod stays ContainerCreating and is tried
// again, as the kubelet's volume manager waits for its volumes.
func (k *Kubelet) claimDirs(ctx context.Context, pod *corev1.Pod) (dirs map[string]string, owned map[string]bool, err error) {
	core := k.cfg.Client.CoreV1()
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		pvc, err := core.PersistentVolumeClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
			return nil, nil, fmt.Errorf("volume %q: persistentvolumeclaim %q is not bound", v.Name, name)
		}
		pv, err := core.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		dir, err := volumeDir(pv)
		if err != nil {
			return nil, nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if dirs == nil {
			dirs, owned = map[string]string{}, map[string]bool{}
		}
		dirs[v.Name] = dir
		owned[v.Name] = pv.Annotations["pv.kubernetes.io/provisioned-by"] == "webkube.io/local-path"
	}
	return dirs, owned, nil
}

// volumeDir is where a persistent volume's data lives on this host.
func volumeDir(pv *corev1.PersistentVolume) (string, error) {
	switch {
	case pv.Spec.HostPath != nil:
		p := pv.Spec.HostPath.Path
		if t := pv.Spec.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", err
			}
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
		}
		return p, nil
	case pv.Spec.Local != nil:
		if _, err := os.Stat(pv.Spec.Local.Path); err != nil {
			return "", fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
		}
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q: only hostPath and local volumes can be mounted by webkube", pv.Name)
}
