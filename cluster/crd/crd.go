// Package crd is what kube-apiserver's apiextensions part does with a
// CustomResourceDefinition, without the serving: it defaults and validates CRDs, and
// compiles each served version into what the API server needs to serve its custom
// resources (structural schema, validator, defaulting and pruning, printer columns,
// subresources, OpenAPI). It uses k8s.io/apiextensions-apiserver's own packages for the
// CRD validation and the structural schema, so errors read exactly as kube's.
package crd

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CleanupFinalizer holds a CRD being deleted until its custom resources are gone, as
// kube-apiserver's finalizer of that name.
const CleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io"

// Default fills in kube-apiserver's v1 defaults (conversion strategy None, a scale's
// paths, a schema's defaults...).
func Default(c *apiextv1.CustomResourceDefinition) {
	apiextv1.SetObjectDefaults_CustomResourceDefinition(c)
}

func toInternal(c *apiextv1.CustomResourceDefinition) (*apiextensions.CustomResourceDefinition, error) {
	out := &apiextensions.CustomResourceDefinition{}
	if err := apiextv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(c.DeepCopy(), out, nil); err != nil {
		return nil, fmt.Errorf("converting CustomResourceDefinition %s: %w", c.Name, err)
	}
	return out, nil
}

// PrepareForCreate resets what clients may not set, as kube's CRD strategy: the status
// starts empty but for the storage version, and the cleanup finalizer is added.
func PrepareForCreate(c *apiextv1.CustomResourceDefinition) {
	c.Status = apiextv1.CustomResourceDefinitionStatus{}
	for _, v := range c.Spec.Versions {
		if v.Storage {
			c.Status.StoredVersions = []string{v.Name}
			break
		}
	}
	for _, f := range c.Finalizers {
		if f == CleanupFinalizer {
			return
		}
	}
	c.Finalizers = append(c.Finalizers, CleanupFinalizer)
}

// PrepareForUpdate records a new storage version in status.storedVersions, as kube's
// CRD strategy: objects stored in the older ones are still there, converted when read.
func PrepareForUpdate(c *apiextv1.CustomResourceDefinition) {
	for _, v := range c.Spec.Versions {
		if !v.Storage {
			continue
		}
		for _, have := range c.Status.StoredVersions {
			if have == v.Name {
				return
			}
		}
		c.Status.StoredVersions = append(c.Status.StoredVersions, v.Name)
		return
	}
}

// Validate is kube-apiserver's validation of a new CRD: names, versions (exactly one
// storage version), a structural schema for each, printer columns, subresources.
func Validate(ctx context.Context, c *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(c)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinition(ctx, in)
}

// ValidateUpdate validates a changed CRD against its old self (a new storage version
// must keep the stored ones listed, the scope and group cannot change...).
func ValidateUpdate(ctx context.Context, c, old *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(c)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldIn, err := toInternal(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinitionUpdate(ctx, in, oldIn)
}

// ValidateStatusUpdate validates a status written by a client (or the controller).
func ValidateStatusUpdate(c, old *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := toInternal(c)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	oldIn, err := toInternal(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateUpdateCustomResourceDefinitionStatus(in, oldIn)
}
