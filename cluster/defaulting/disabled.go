package defaulting

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
)

// kube-apiserver v1.32 drops, on create, the fields of features whose gates are off by
// default (alpha, or beta and off): a cluster started with default settings stores the
// object without them and ignores them. webkube implements none of these features, so it
// drops them the same way, and `kubectl get -o yaml` shows what a real cluster would show.

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

// dropDisabledNodeFields: a node's dynamic kubelet configuration (removed from the kubelet
// long ago) and the features it reports (SupplementalGroupsPolicy).
func dropDisabledNodeFields(n *corev1.Node) {
	n.Spec.ConfigSource = nil
	n.Status.Config = nil
	n.Status.Features = nil
}

// dropDisabledLeaseFields: coordinated leader election (CoordinatedLeaderElection).
func dropDisabledLeaseFields(l *coordinationv1.Lease) {
	l.Spec.Strategy = nil
	l.Spec.PreferredHolder = nil
}
