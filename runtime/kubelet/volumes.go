package kubelet

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
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

// refreshVolumes writes the pod's configMap, secret, downwardAPI and projected volumes
// again when what they show changed: a label or annotation of the pod (this sync follows
// its update) or a ConfigMap or Secret key (read again by a sync at least volumeRefresh
// after the last, so status updates do not each cost the API server a GET), as the kubelet's volume manager remounts them. A volume that cannot be
// computed now (a ConfigMap gone) keeps its files, as the kubelet's do.
func (k *Kubelet) refreshVolumes(ctx context.Context, pod *corev1.Pod, st *podState) {
	meta := podMeta(pod)
	now := k.cfg.Clock.Now()
	if !st.created || !hasFileVolumes(pod) || (meta == st.volumeMeta && now.Sub(st.volumesAt) < volumeRefresh) {
		return
	}
	st.volumeMeta, st.volumesAt = meta, now
	cms, secrets, err := k.configData(ctx, pod, &corev1.Container{})
	var files map[string][]containers.File
	if err == nil {
		files, err = k.volumeFiles(ctx, pod, st, cms, secrets)
	}
	if err == nil {
		var changed []string
		changed, err = k.cfg.Runtime.RefreshVolumes(pod, files)
		for _, name := range changed {
			k.log.Info("volume updated", "pod", podKey(pod), "volume", name)
		}
	}
	if err != nil {
		k.log.Warn("volume not updated", "pod", podKey(pod), "err", err)
	}
}

// volumeRefresh is how long after reading a pod's ConfigMaps and Secrets for its volumes
// a sync reads them again: every 10 s resync does (the kubelet's sync period is a minute;
// a learner should not wait that long), the syncs of status updates in between do not.
const volumeRefresh = 5 * time.Second

// podMeta is what of a pod its downwardAPI volumes may show and an update may change.
func podMeta(pod *corev1.Pod) string {
	return formatMap(pod.Labels) + "\n" + formatMap(pod.Annotations)
}

func hasFileVolumes(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil {
			return true
		}
	}
	return false
}
