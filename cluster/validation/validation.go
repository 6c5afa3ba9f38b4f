// Package validation checks objects the way kube-apiserver does, returning field errors
// that the API server turns into a 422 Invalid status with one cause per field.
//
// Paths, error types and detail words follow kube-apiserver's pkg/apis/core/validation and
// pkg/apis/apps/validation, so kubectl prints the messages a learner finds in Kubernetes
// documentation, e.g.
//
//	spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`
//
// The caller runs defaulting first (as kube-apiserver does) and fills in what the request
// decides: the namespace from the URL for namespaced kinds (cluster-scoped kinds must have
// none), a generated name, and on update the stored resourceVersion when the client sent
// none.
package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateCreate validates a new, already defaulted object.
func ValidateCreate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePodCreate(o)
	case *corev1.Service:
		return validateService(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.Event:
		return validateEvent(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.ServiceAccount:
		return validateServiceAccount(o)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o)
	case *corev1.ReplicationController:
		return validateReplicationController(o)
	case *certificatesv1.CertificateSigningRequest:
		return validateCSR(o, nil)
	case *appsv1.Deployment:
		return validateDeployment(o)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)
	case *appsv1.StatefulSet:
		return validateStatefulSet(o)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o)
	case *appsv1.ControllerRevision:
		return validateControllerRevision(o)
	case *batchv1.Job:
		return validateJob(o)
	case *batchv1.CronJob:
		return validateCronJob(o)
	case *corev1.PersistentVolume:
		return validatePersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		return validatePersistentVolumeClaim(o)
	case *storagev1.StorageClass:
		return validateStorageClass(o)
	case *coordinationv1.Lease:
		return validateLease(o)
	case *corev1.ResourceQuota:
		return validateResourceQuota(o)
	case *corev1.LimitRange:
		return validateLimitRange(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return validateHPA(o)
	case *schedulingv1.PriorityClass:
		return validatePriorityClass(o)
	case *policyv1.PodDisruptionBudget:
		return validatePDB(o)
	case *rbacv1.Role:
		return validateRole(o)
	case *rbacv1.ClusterRole:
		return validateClusterRole(o)
	case *rbacv1.RoleBinding:
		return validateRoleBinding(o)
	case *rbacv1.ClusterRoleBinding:
		return validateClusterRoleBinding(o)
	case *networkingv1.Ingress:
		return validateIngress(o)
	case *networkingv1.IngressClass:
		return validateIngressClass(o)
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicy(o)
	}
	return nil
}

// ValidateUpdate validates obj replacing old (immutable fields, plus everything
// ValidateCreate checks).
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return update(o, old, validatePodUpdate)
	case *corev1.Service:
		return update(o, old, validateServiceUpdate)
	case *corev1.Namespace:
		return update(o, old, func(n, o *corev1.Namespace) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateNamespace(n)...)
		})
	case *corev1.Node:
		return update(o, old, func(n, o *corev1.Node) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateNode(n)...)
		})
	case *corev1.Endpoints:
		return update(o, old, func(n, o *corev1.Endpoints) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateEndpoints(n)...)
		})
	case *corev1.Event:
		return update(o, old, func(n, o *corev1.Event) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateEvent(n)...)
		})
	case *corev1.ConfigMap:
		return update(o, old, validateConfigMapUpdate)
	case *corev1.Secret:
		return update(o, old, validateSecretUpdate)
	case *corev1.ServiceAccount:
		return update(o, old, func(n, o *corev1.ServiceAccount) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateServiceAccount(n)...)
		})
	case *appsv1.ReplicaSet:
		return update(o, old, validateReplicaSetUpdate)
	case *corev1.ReplicationController:
		return update(o, old, validateReplicationControllerUpdate)
	case *appsv1.Deployment:
		return update(o, old, validateDeploymentUpdate)
	case *discoveryv1.EndpointSlice:
		return update(o, old, validateEndpointSliceUpdate)
	case *appsv1.StatefulSet:
		return update(o, old, validateStatefulSetUpdate)
	case *appsv1.DaemonSet:
		return update(o, old, validateDaemonSetUpdate)
	case *appsv1.ControllerRevision:
		return update(o, old, validateControllerRevisionUpdate)
	case *batchv1.Job:
		return update(o, old, validateJobUpdate)
	case *batchv1.CronJob:
		return update(o, old, validateCronJobUpdate)
	case *corev1.PersistentVolume:
		return update(o, old, validatePersistentVolumeUpdate)
	case *corev1.PersistentVolumeClaim:
		return update(o, old, validatePersistentVolumeClaimUpdate)
	case *networkingv1.Ingress:
		return update(o, old, validateIngressUpdate)
	case *networkingv1.IngressClass:
		return update(o, old, validateIngressClassUpdate)
	case *networkingv1.NetworkPolicy:
		return update(o, old, validateNetworkPolicyUpdate)
	case *storagev1.StorageClass:
		return update(o, old, validateStorageClassUpdate)
	case *coordinationv1.Lease:
		return update(o, old, validateLeaseUpdate)
	case *corev1.ResourceQuota:
		return update(o, old, func(n, o *corev1.ResourceQuota) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateResourceQuota(n)...)
		})
	case *schedulingv1.PriorityClass:
		return update(o, old, validatePriorityClassUpdate)
	case *policyv1.PodDisruptionBudget:
		return update(o, old, func(n, o *policyv1.PodDisruptionBudget) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validatePDB(n)...)
		})
	case *corev1.LimitRange:
		return update(o, old, func(n, o *corev1.LimitRange) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateLimitRange(n)...)
		})
	case *autoscalingv2.HorizontalPodAutoscaler:
		return update(o, old, validateHPAUpdate)
	case *rbacv1.Role:
		return update(o, old, func(n, o *rbacv1.Role) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateRole(n)...)
		})
	case *rbacv1.ClusterRole:
		return update(o, old, func(n, o *rbacv1.ClusterRole) field.ErrorList {
			return append(metaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateClusterRole(n)...)
		})
	case *rbacv1.RoleBinding:
		return update(o, old, validateRoleBindingUpdate)
	case *rbacv1.ClusterRoleBinding:
		return update(o, old, validateClusterRoleBindingUpdate)
	}
	return nil
}

// ValidateStatusUpdate validates a write to the status subresource (or another write the
// API server makes on the user's behalf, such as pods/binding): the spec is not the
// writer's to change, so only metadata rules apply, as in kube-apiserver's status
// strategies.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	n, err1 := meta.Accessor(obj)
	o, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), fmt.Errorf("cannot update a %T with a %T", old, obj))}
	}
	return apivalidation.ValidateObjectMetaAccessorUpdate(n, o, field.NewPath("metadata"))
}

// update checks that old has obj's type and runs fn.
func update[T runtime.Object](obj T, old runtime.Object, fn func(n, o T) field.ErrorList) field.ErrorList {
	o, ok := old.(T)
	if !ok {
		return field.ErrorList{field.InternalError(field.NewPath(""), fmt.Errorf("cannot update a %T with a %T", old, obj))}
	}
	return fn(obj, o)
}
