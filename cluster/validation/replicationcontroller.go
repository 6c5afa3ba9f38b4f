package validation

import (
	corev1 "k8s.io/api/core/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ReplicationControllers: kube-apiserver's ValidateReplicationController. Unlike a
// ReplicaSet's, the selector is a plain label map (defaulted from the template's labels)
// and the template may be absent when there are no replicas.

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := objectMeta(&rc.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateReplicationControllerSpec(&rc.Spec)...)
}

func validateReplicationControllerSpec(spec *corev1.ReplicationControllerSpec) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if spec.Replicas == nil {
		errs = append(errs, field.Required(specPath.Child("replicas"), ""))
	} else {
		errs = append(errs, nonNegative(int64(*spec.Replicas), specPath.Child("replicas"))...)
	}
	selPath := specPath.Child("selector")
	if len(spec.Selector) == 0 {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, labels(spec.Selector, selPath)...)
	}
	tPath := specPath.Child("template")
	t := spec.Template
	if t == nil {
		return append(errs, field.Required(tPath, ""))
	}
	if sel := k8slabels.Set(spec.Selector).AsSelector(); !sel.Empty() && !sel.Matches(k8slabels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validatePodTemplateSpec(t, tPath)...)
	return append(errs, runsForever("ReplicationController", t, tPath)...)
}

// A ReplicationController's selector may change (unlike a ReplicaSet's): the pods it no
// longer selects are released.
func validateReplicationControllerUpdate(rc, old *corev1.ReplicationController) field.ErrorList {
	errs := metaUpdate(&rc.ObjectMeta, &old.ObjectMeta)
	return append(errs, validateReplicationControllerSpec(&rc.Spec)...)
}
