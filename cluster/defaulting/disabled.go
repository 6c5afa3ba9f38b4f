package defaulting

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
)

// kube-apiserver v1.32 drops, on create, the fields of features whose gates are off by
// default (alpha, or beta and off): a cluster started with default settings stores the
// object without them and ignores them. webkube implements none of these features, so it
// drops them the same way, and `kubectl get -o yaml` shows what a real cluster would show.

// dropDisabled drops the fields of the features that are off from obj, of any kind.
func dropDisabled(obj runtime.Object) {
	if spec := podSpecOf(obj); spec != nil {
		dropDisabledPodFields(spec)
	}
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			ru.MaxUnavailable = nil // MaxUnavailableStatefulSet
		}
	case *corev1.PersistentVolume:
		o.Spec.VolumeAttributesClassName = nil // VolumeAttributesClass
	case *corev1.PersistentVolumeClaim:
		o.Spec.VolumeAttributesClassName = nil
	case *corev1.Node:
		o.Spec.ConfigSource = nil // the kubelet's dynamic configuration, long removed
		o.Status.Features = nil   // SupplementalGroupsPolicy
	case *coordinationv1.Lease:
		o.Spec.Strategy = nil // CoordinatedLeaderElection
		o.Spec.PreferredHolder = nil
	}
}

// DropDisabledOnUpdate drops from next, on an update, the fields of the features that are
// off, as kube-apiserver's strategies do, unless old already uses one (an object stored
// before webkube dropped them keeps them, as kube-apiserver keeps a field in use). Call it
// before Default on updates of the object itself (not of its status).
func DropDisabledOnUpdate(next, old runtime.Object) {
	probe := old.DeepCopyObject()
	dropDisabled(probe)
	if !equality.Semantic.DeepEqual(probe, old) {
		return
	}
	dropDisabled(next)
}

// podSpecOf returns the pod spec of a pod or of a workload's pod template, or nil.
func podSpecOf(obj runtime.Object) *corev1.PodSpec {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec
	case *corev1.PodTemplate:
		return &o.Template.Spec
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec
	case *corev1.ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.Spec
		}
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil
}

// dropDisabledPodFields drops from a pod spec (a pod's or a template's): hostUsers
// (UserNamespacesSupport), supplementalGroupsPolicy, seLinuxChangePolicy, pod-level
// resources (PodLevelResources), resource claims (DynamicResourceAllocation), resize
// policies (InPlacePodVerticalScaling), image volumes (ImageVolume) and projected cluster
// trust bundles (ClusterTrustBundleProjection); a procMount other than Default is reset to
// Default (ProcMountType).
func dropDisabledPodFields(spec *corev1.PodSpec) {
	spec.HostUsers = nil
	if sc := spec.SecurityContext; sc != nil {
		sc.SupplementalGroupsPolicy = nil
		sc.SELinuxChangePolicy = nil
	}
	spec.Resources = nil
	spec.ResourceClaims = nil
	eachContainer(spec, func(c *corev1.Container) {
		c.Resources.Claims = nil
		c.ResizePolicy = nil
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil {
			sc.ProcMount = ptr(corev1.DefaultProcMount)
		}
	})
	dropImageVolumes(spec)
	for _, v := range spec.Volumes {
		if v.Projected != nil {
			for i := range v.Projected.Sources {
				v.Projected.Sources[i].ClusterTrustBundle = nil
			}
		}
	}
}

// eachContainer calls f on every init, app and ephemeral container of spec, in place.
func eachContainer(spec *corev1.PodSpec, f func(c *corev1.Container)) {
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		f(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		f(&c)
		spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
}

// dropImageVolumes removes the volumes of an OCI image and every mount of them.
func dropImageVolumes(spec *corev1.PodSpec) {
	dropped := map[string]bool{}
	var kept []corev1.Volume
	for _, v := range spec.Volumes {
		if v.Image != nil {
			dropped[v.Name] = true
			continue
		}
		kept = append(kept, v)
	}
	if len(dropped) == 0 {
		return
	}
	spec.Volumes = kept
	eachContainer(spec, func(c *corev1.Container) {
		var mounts []corev1.VolumeMount
		for _, m := range c.VolumeMounts {
			if !dropped[m.Name] {
				mounts = append(mounts, m)
			}
		}
		c.VolumeMounts = mounts
	})
}
