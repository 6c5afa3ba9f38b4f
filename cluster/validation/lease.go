package validation

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateLease checks a Lease as kube-apiserver's coordination validation does.
func validateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := objectMeta(&l.ObjectMeta, true, nameIsDNSSubdomain)
	spec := field.NewPath("spec")
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if s := l.Spec.Strategy; s != nil && *s != coordinationv1.OldestEmulationVersion {
		errs = append(errs, field.NotSupported(spec.Child("strategy"), *s, []string{string(coordinationv1.OldestEmulationVersion)}))
	}
	if l.Spec.PreferredHolder != nil && *l.Spec.PreferredHolder != "" && l.Spec.Strategy == nil {
		errs = append(errs, field.Forbidden(spec.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

func validateLeaseUpdate(l, old *coordinationv1.Lease) field.ErrorList {
	return append(metaUpdate(&l.ObjectMeta, &old.ObjectMeta), validateLease(l)...)
}
