package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/defaulting"
	"webkube/cluster/validation"
)

// prepareEphemeralContainers is an update through pods/ephemeralcontainers (kubectl
// debug): only spec.ephemeralContainers changes, the rest is the stored pod's.
func prepareEphemeralContainers(next, old runtime.Object) (runtime.Object, error) {
	np, ok := next.(*corev1.Pod)
	op, ok2 := old.(*corev1.Pod)
	if !ok || !ok2 {
		return nil, apierrors.NewBadRequest("ephemeralcontainers is a subresource of pods")
	}
	out := op.DeepCopy()
	out.Spec.EphemeralContainers = np.Spec.EphemeralContainers
	out.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	defaulting.Default(out)
	if errs := validation.ValidateEphemeralContainersUpdate(out, op); len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Pod").GroupKind(), out.Name, errs)
	}
	return out, nil
}
