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
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: volName,
		VolumeSource: corev1.VolumeSource{Projected: newAPIAccessSource()}})
}

// apiAccessParts holds every part of the projected kube-api-access volume in one
// allocation instead of a dozen small ones: each pod create makes one, and the parts
// live and die together with the pod. The slices are full (len == cap), so an append
// to one copies it out instead of writing over its neighbour.
type apiAccessParts struct {
	projected corev1.ProjectedVolumeSource
	mode      int32
	expiry    int64
	sources   [3]corev1.VolumeProjection
	token     corev1.ServiceAccountTokenProjection
	ca        corev1.ConfigMapProjection
	caItems   [1]corev1.KeyToPath
	ns        corev1.DownwardAPIProjection
	nsItems   [1]corev1.DownwardAPIVolumeFile
	nsField   corev1.ObjectFieldSelector
}

// newAPIAccessSource is the projected source of the kube-api-access volume: the token,
// the cluster's CA and the pod's namespace.
func newAPIAccessSource() *corev1.ProjectedVolumeSource {
	p := &apiAccessParts{mode: 0o644, expiry: kubeletTokenSeconds}
	p.token = corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &p.expiry}
	p.caItems[0] = corev1.KeyToPath{Key: "ca.crt", Path: "ca.crt"}
	p.ca = corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
		Items: p.caItems[:]}
	p.nsField = corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}
	p.nsItems[0] = corev1.DownwardAPIVolumeFile{Path: "namespace", FieldRef: &p.nsField}
	p.ns = corev1.DownwardAPIProjection{Items: p.nsItems[:]}
	p.sources = [3]corev1.VolumeProjection{{ServiceAccountToken: &p.token}, {ConfigMap: &p.ca}, {DownwardAPI: &p.ns}}
	p.projected = corev1.ProjectedVolumeSource{DefaultMode: &p.mode, Sources: p.sources[:]}
	return &p.projected
}

func mountsAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}
