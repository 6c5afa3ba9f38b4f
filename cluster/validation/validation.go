// Package validation checks objects the way kube-apiserver does, returning field errors
// that the API server turns into a 422 Invalid status with one cause per field.
package validation

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateCreate validates a new, already defaulted object.
func ValidateCreate(obj runtime.Object) field.ErrorList {
	// TODO(validation helper): implement.
	return nil
}

// ValidateUpdate validates obj replacing old (immutable fields, plus everything
// ValidateCreate checks).
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	// TODO(validation helper): implement.
	return nil
}
