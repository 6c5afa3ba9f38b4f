package defaulting

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PrepareForCreate resets what a client may not set when it creates obj, as kube-apiserver's
// registry strategies do before validation: the status (a pod starts Pending, a namespace
// Active), the fields of features that are off (disabled.go), a namespace's kubernetes
// finalizer, and a Job's generated selector. The caller has set the object's name, UID and
// creation time (which stamps the first status transitions).
func PrepareForCreate(obj runtime.Object) {
	dropDisabled(obj)
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending}
		gatedCondition(o)
	case *appsv1.ReplicaSet:
		o.Status = appsv1.ReplicaSetStatus{}
	case *corev1.ReplicationController:
		o.Status = corev1.ReplicationControllerStatus{}
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		o.Status = appsv1.StatefulSetStatus{}
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{}
		firstTemplateGeneration(o)
	case *batchv1.Job:
		o.Status = batchv1.JobStatus{}
		generateJobSelector(o)
	case *batchv1.CronJob:
		o.Status = batchv1.CronJobStatus{}
	case *corev1.Service:
		o.Status = corev1.ServiceStatus{}
	case *corev1.ResourceQuota:
		o.Status = corev1.ResourceQuotaStatus{}
	case *corev1.PersistentVolume:
		o.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: ptr(o.CreationTimestamp)}
	case *corev1.PersistentVolumeClaim:
		o.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
	case *autoscalingv2.HorizontalPodAutoscaler:
		o.Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
	case *policyv1.PodDisruptionBudget:
		o.Status = policyv1.PodDisruptionBudgetStatus{}
	case *corev1.Node:
		o.Status.Config = nil // the kubelet's dynamic configuration, long removed
	case *networkingv1.Ingress:
		o.Status = networkingv1.IngressStatus{}
	case *corev1.Namespace:
		o.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	case *corev1.ServiceAccount:
		secretNamesOnly(o)
	}
}

// PrepareForUpdate clears, on an update of the object itself (not of a subresource), what
// kube-apiserver's strategies clear whatever the stored object holds.
func PrepareForUpdate(obj runtime.Object) {
	if sa, ok := obj.(*corev1.ServiceAccount); ok {
		secretNamesOnly(sa)
	}
}

// secretNamesOnly keeps only the name of each of a ServiceAccount's secrets, as kube's
// strategy does: the references are to Secrets of its own namespace, and nothing else in
// them is read.
func secretNamesOnly(sa *corev1.ServiceAccount) {
	for i, s := range sa.Secrets {
		sa.Secrets[i] = corev1.ObjectReference{Name: s.Name}
	}
}

// gatedCondition: a pod created with scheduling gates says why it is not scheduled yet.
func gatedCondition(pod *corev1.Pod) {
	if len(pod.Spec.SchedulingGates) == 0 {
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated,
		Message:            "Scheduling is blocked due to non-empty scheduling gates",
		LastTransitionTime: pod.CreationTimestamp,
	})
}

// DaemonSetTemplateGeneration is the annotation where apps/v1 keeps a DaemonSet's template
// generation (a field of the older API versions); a new DaemonSet starts at 1.
const DaemonSetTemplateGeneration = "deprecated.daemonset.template.generation"

func firstTemplateGeneration(ds *appsv1.DaemonSet) {
	if g, err := strconv.ParseInt(ds.Annotations[DaemonSetTemplateGeneration], 10, 64); err == nil && g >= 1 {
		return
	}
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[DaemonSetTemplateGeneration] = "1"
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
