package apiserver

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// kube-apiserver's ServiceAccount admission plugin names and paths.
const (
	apiAccessVolumePrefix = "kube-api-access-"
	apiAccessMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	rootCAConfigMap       = "kube-root-ca.crt"
)

// admitPodServiceAccount is the ServiceAccount admission plugin on a new pod: it runs as
// `default` unless it names a service account, which must exist (webkube lets `default`
// be missing for a moment, as the serviceaccount controller makes it just after a
// namespace); the pod gets the account's imagePullSecrets when it has none, and, unless
// automounting is off, the projected kube-api-access-xxxxx volume (token, ca.crt,
// namespace) mounted in every container.
func (s *Server) admitPodServiceAccount(ctx context.Context, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = pod.Spec.DeprecatedServiceAccount
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default" // every pod runs as a service account
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	name := pod.Spec.ServiceAccountName
	r := resourceFor(coreV1.WithResource("serviceaccounts").GroupResource())
	var sa *corev1.ServiceAccount
	// The watch cache answers almost every pod; a miss (perhaps a ServiceAccount created
	// a moment ago) is read from the store. The object is shared: read only.
	if o, err := s.cachedGet(ctx, target{res: r, namespace: pod.Namespace, name: name}, "0"); err == nil && o != nil {
		sa = o.Obj.(*corev1.ServiceAccount)
	}
	var err error
	if sa == nil {
		var obj runtime.Object
		if obj, _, err = s.getObject(ctx, r, pod.Namespace, name); err == nil {
			sa = obj.(*corev1.ServiceAccount)
		}
	}
	switch {
	case err == nil:
	case apierrors.IsNotFound(err) && name != "default":
		return apierrors.NewForbidden(coreGR("pods"), pod.Name,
			fmt.Errorf("error looking up service account %s/%s: serviceaccount %q not found", pod.Namespace, name, name))
	case !apierrors.IsNotFound(err):
		return err
	}
	if sa != nil && len(pod.Spec.ImagePullSecrets) == 0 {
		pod.Spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	automount := true
	if pod.Spec.AutomountServiceAccountToken != nil {
		automount = *pod.Spec.AutomountServiceAccountToken
	} else if sa != nil && sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if automount {
		mountAPIAccess(pod)
	}
	return nil
}

// mountAPIAccess follows the plugin's mountServiceAccountToken: one kube-api-access-xxxxx
// volume, mounted read-only in each container that mounts nothing at the token path.
func mountAPIAccess(pod *corev1.Pod) {
	volName := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, apiAccessVolumePrefix) {
			volName = v.Name
			break
		}
	}
	hasVolume := volName != ""
	if !hasVolume {
		volName = apiAccessVolumePrefix + utilrand.String(5)
	}
	mount := corev1.VolumeMount{Name: volName, ReadOnly: true, MountPath: apiAccessMountPath}
	needed := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !mountsAt(cs[i].VolumeMounts, apiAccessMountPath) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if hasVolume || !needed {
		return
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volName, VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptrTo(int32(0o644)), Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptrTo(int64(kubeletTokenSeconds))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}})
}

func mountsAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}
