package defaulting

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PrepareForCreate resets what a client may not set when it creates obj, as kube-apiserver's
// registry strategies do before validation: the status (a pod starts Pending, a namespace
// Active), a namespace's kubernetes finalizer, and a Job's generated selector. The caller
// has set the object's name and UID.
func PrepareForCreate(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending}
		dropDisabledPodFields(&o.Spec)
	case *appsv1.ReplicaSet:
		o.Status = appsv1.ReplicaSetStatus{}
		dropDisabledPodFields(&o.Spec.Template.Spec)
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
		dropDisabledPodFields(&o.Spec.Template.Spec)
	case *appsv1.StatefulSet:
		o.Status = appsv1.StatefulSetStatus{}
		dropDisabledPodFields(&o.Spec.Template.Spec)
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{}
		dropDisabledPodFields(&o.Spec.Template.Spec)
	case *batchv1.Job:
		o.Status = batchv1.JobStatus{}
		generateJobSelector(o)
		dropDisabledPodFields(&o.Spec.Template.Spec)
	case *batchv1.CronJob:
		o.Status = batchv1.CronJobStatus{}
		dropDisabledPodFields(&o.Spec.JobTemplate.Spec.Template.Spec)
	case *corev1.Service:
		o.Status = corev1.ServiceStatus{}
	case *corev1.ResourceQuota:
		o.Status = corev1.ResourceQuotaStatus{}
	case *corev1.PersistentVolume:
		o.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending}
	case *corev1.PersistentVolumeClaim:
		o.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
	case *networkingv1.Ingress:
		o.Status = networkingv1.IngressStatus{}
	case *corev1.Namespace:
		o.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	}
}

// dropDisabledPodFields clears what a new pod spec may hold only for features kube-apiserver
// v1.32 has off by default (user namespaces, supplemental groups policy, proc mount types,
// in-place resize, SELinux change policy, pod-level resources), as its strategies do:
// webkube implements none of them, and a real cluster silently ignores them too.
func dropDisabledPodFields(spec *corev1.PodSpec) {
	spec.HostUsers = nil
	spec.Resources = nil
	if sc := spec.SecurityContext; sc != nil {
		sc.SupplementalGroupsPolicy = nil
		sc.SELinuxChangePolicy = nil
	}
	each := func(c *corev1.Container) {
		c.ResizePolicy = nil
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil {
			def := corev1.DefaultProcMount
			sc.ProcMount = &def
		}
	}
	for i := range spec.InitContainers {
		each(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		each(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i]
		c.ResizePolicy = nil
		if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil {
			def := corev1.DefaultProcMount
			sc.ProcMount = &def
		}
	}
}

// generateJobSelector gives a new Job whose manualSelector is not true the selector and
// template labels kube-apiserver's job strategy generates from its UID, so its pods match
// this Job alone. Labels the user already set are kept; validation refuses conflicts.
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	uid := string(job.UID)
	for k, v := range map[string]string{
		"job-name":                 job.Name, // the unprefixed labels Kubernetes still sets
		batchv1.JobNameLabel:       job.Name,
		"controller-uid":           uid,
		batchv1.ControllerUidLabel: uid,
	} {
		if _, set := job.Spec.Template.Labels[k]; !set {
			job.Spec.Template.Labels[k] = v
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !set {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = uid
	}
}
