package validation

import (
	batchv1 "k8s.io/api/batch/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// jobManagedBy checks spec.managedBy, the controller a Job is left to: a domain-prefixed
// path (example.com/name) of at most 63 characters, as kube-apiserver's Job validation.
func jobManagedBy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	m := spec.ManagedBy
	if m == nil {
		return nil
	}
	p := path.Child("managedBy")
	errs := utilvalidation.IsDomainPrefixedPath(p, *m)
	if len(*m) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	return errs
}

// jobPodReplacementPolicy: when the Job replaces a failed pod. With a pod failure policy
// only Failed makes sense (the policy needs the pod's final state).
func jobPodReplacementPolicy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	r := spec.PodReplacementPolicy
	if r == nil {
		return nil
	}
	p := path.Child("podReplacementPolicy")
	if spec.PodFailurePolicy != nil {
		return enum(string(*r), p, string(batchv1.Failed))
	}
	return enum(string(*r), p, string(batchv1.Failed), string(batchv1.TerminatingOrFailed))
}
