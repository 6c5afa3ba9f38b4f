package crd

import (
	"context"
	"fmt"
	"math"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
)

// Version is one served version of a CRD, ready to serve: its names, its schema
// compiled for validation, defaulting and pruning, its columns and subresources.
type Version struct {
	GVR        schema.GroupVersionResource
	Kind       string
	ListKind   string
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool
	// Storage: objects are stored in this version; other served versions are the same
	// objects with another apiVersion (conversion strategy None).
	Storage bool
	// Served: clients may use this version (the storage version may not be served).
	Served bool
	// StorageVersion is the version objects are stored in.
	StorageVersion string
	// Status and Scale are the subresources (nil: not served).
	Status bool
	Scale  *apiextv1.CustomResourceSubresourceScale
	// Schema is the version's openAPIV3Schema as given (nil: none).
	Schema *apiextv1.JSONSchemaProps

	structural      *structuralschema.Structural
	validator       apiservervalidation.SchemaValidator
	statusValidator apiservervalidation.SchemaValidator
	// rules are the schema's x-kubernetes-validations, compiled (nil: none).
	rules   *cel.Validator
	columns []column
}

// Compile turns an established CRD into its versions, the storage version first.
func Compile(c *apiextv1.CustomResourceDefinition) ([]*Version, error) {
	in, err := toInternal(c)
	if err != nil {
		return nil, err
	}
	storage := ""
	for _, v := range c.Spec.Versions {
		if v.Storage {
			storage = v.Name
		}
	}
	var out []*Version
	for i, v := range c.Spec.Versions {
		// The internal form holds a schema all versions share once, at the top.
		sch := in.Spec.Versions[i].Schema
		if sch == nil {
			sch = in.Spec.Validation
		}
		cv, err := compileVersion(c, sch, v, storage)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		if cv.Storage {
			out = append([]*Version{cv}, out...)
		} else {
			out = append(out, cv)
		}
	}
	return out, nil
}

func compileVersion(c *apiextv1.CustomResourceDefinition, internal *apiextensions.CustomResourceValidation,
	v apiextv1.CustomResourceDefinitionVersion, storage string) (*Version, error) {
	n := c.Spec.Names
	cv := &Version{
		GVR:  schema.GroupVersionResource{Group: c.Spec.Group, Version: v.Name, Resource: n.Plural},
		Kind: n.Kind, ListKind: n.ListKind, Singular: n.Singular, ShortNames: n.ShortNames, Categories: n.Categories,
		Namespaced: c.Spec.Scope == apiextv1.NamespaceScoped,
		Storage:    v.Name == storage, StorageVersion: storage, Served: v.Served,
	}
	if cv.ListKind == "" {
		cv.ListKind = n.Kind + "List"
	}
	if cv.Singular == "" {
		cv.Singular = strings.ToLower(n.Kind)
	}
	if v.Subresources != nil {
		cv.Status = v.Subresources.Status != nil
		cv.Scale = v.Subresources.Scale
	}
	if v.Schema != nil {
		cv.Schema = v.Schema.OpenAPIV3Schema
	}
	props := &apiextensions.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptrTrue()}
	if internal != nil && internal.OpenAPIV3Schema != nil {
		props = internal.OpenAPIV3Schema
	}
	var err error
	if cv.structural, err = structuralschema.NewStructural(props); err != nil {
		return nil, fmt.Errorf("schema is not structural: %w", err)
	}
	if cv.validator, _, err = apiservervalidation.NewSchemaValidator(props); err != nil {
		return nil, err
	}
	// The CEL rules compile once per version, as kube's custom resource strategy.
	cv.rules = cel.NewValidator(cv.structural, true, celconfig.PerCallLimit)
	if st, ok := props.Properties["status"]; ok {
		if cv.statusValidator, _, err = apiservervalidation.NewSchemaValidator(&st); err != nil {
			return nil, err
		}
	}
	if cv.columns, err = compileColumns(v.AdditionalPrinterColumns); err != nil {
		return nil, err
	}
	return cv, nil
}

func ptrTrue() *bool { b := true; return &b }

// Prune drops the fields the schema does not know (kube-apiserver prunes on decode)
// and returns their paths, for fieldValidation Strict and Warn.
func (v *Version) Prune(obj map[string]any) []string {
	return pruning.PruneWithOptions(obj, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
}

// Default sets the schema's defaults where fields are missing (after pruning, as kube).
func (v *Version) Default(obj map[string]any) {
	defaulting.Default(obj, v.structural)
}

// Validate checks an object of this version as kube's custom resource strategy: its
// apiVersion and kind, its metadata, its schema, its list types, its scale paths and
// its CEL rules (x-kubernetes-validations). old is nil for a create; on an update the
// schema ratchets (an unchanged invalid value stays allowed) and transition rules
// (those using oldSelf) run.
func (v *Version) Validate(ctx context.Context, u, old *unstructured.Unstructured) field.ErrorList {
	errs := v.validateTypeMeta(u)
	if len(errs) > 0 {
		return errs
	}
	if old == nil {
		errs = append(errs, metavalidation.ValidateObjectMetaAccessor(u, v.Namespaced, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.Object, v.validator)...)
		errs = append(errs, v.validateScale(u, true)...)
		errs = append(errs, objectmeta.Validate(nil, u.Object, v.structural, false)...)
		errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, u.Object)...)
		return append(errs, v.validateRules(ctx, u, nil, nil, errs)...)
	}
	correlated := common.NewCorrelatedObject(u.Object, old.Object, &model.Structural{Structural: v.structural})
	errs = append(errs, metavalidation.ValidateObjectMetaAccessorUpdate(u, old, field.NewPath("metadata"))...)
	errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, u.Object, old.Object, v.validator,
		apiservervalidation.WithRatcheting(correlated))...)
	errs = append(errs, v.validateScale(u, true)...)
	errs = append(errs, objectmeta.Validate(nil, u.Object, v.structural, false)...)
	if oldErrs := listtype.ValidateListSetsAndMaps(nil, v.structural, old.Object); len(oldErrs) == 0 {
		errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, u.Object)...)
	}
	return append(errs, v.validateRules(ctx, u, old, correlated, errs)...)
}

// ValidateStatus checks a write through the status subresource: only status is
// validated against its schema, the CEL rules against the whole object.
func (v *Version) ValidateStatus(ctx context.Context, u, old *unstructured.Unstructured) field.ErrorList {
	errs := v.validateTypeMeta(u)
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, metavalidation.ValidateObjectMetaAccessorUpdate(u, old, field.NewPath("metadata"))...)
	if st, ok := u.Object["status"]; ok && v.statusValidator != nil {
		errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(field.NewPath("status"), st, old.Object["status"], v.statusValidator)...)
	}
	errs = append(errs, v.validateScale(u, false)...)
	if newErrs := listtype.ValidateListSetsAndMaps(nil, v.structural, u.Object); len(newErrs) > 0 {
		if oldErrs := listtype.ValidateListSetsAndMaps(nil, v.structural, old.Object); len(oldErrs) == 0 {
			errs = append(errs, newErrs...)
		}
	}
	return append(errs, v.validateRules(ctx, u, old, nil, errs)...)
}

// validateRules runs the CEL rules unless the object already failed its schema in a
// way the rules could not be evaluated over (a wrong type, a missing required
// field...): then kube says so instead. correlated (updates of the main resource)
// lets an unchanged value keep failing a rule that does not use oldSelf.
func (v *Version) validateRules(ctx context.Context, u, old *unstructured.Unstructured, correlated *common.CorrelatedObject, errs field.ErrorList) field.ErrorList {
	if v.rules == nil {
		return nil
	}
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.ErrorList{field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")}
		}
	}
	var oldObj any
	if old != nil {
		oldObj = old.Object
	}
	var opts []cel.Option
	if correlated != nil {
		opts = append(opts, cel.WithRatcheting(correlated))
	}
	out, _ := v.rules.Validate(ctx, nil, v.structural, u.Object, oldObj, celconfig.RuntimeCELCostBudget, opts...)
	return out
}

func (v *Version) validateTypeMeta(u *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if u.GetKind() != v.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), u.GetKind(), "must be "+v.Kind))
	}
	if want := v.GVR.GroupVersion().String(); u.GetAPIVersion() != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), u.GetAPIVersion(), "must be "+want))
	}
	return errs
}

// validateScale checks the replica counts the scale subresource reads are integers in
// range, and the selector a string.
func (v *Version) validateScale(u *unstructured.Unstructured, spec bool) field.ErrorList {
	if v.Scale == nil {
		return nil
	}
	var errs field.ErrorList
	check := func(path string) {
		n, _, err := unstructured.NestedInt64(u.Object, SplitPath(path)...)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(field.NewPath(path), n, err.Error()))
		case n < 0:
			errs = append(errs, field.Invalid(field.NewPath(path), n, "should be a non-negative integer"))
		case n > math.MaxInt32:
			errs = append(errs, field.Invalid(field.NewPath(path), n, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32)))
		}
	}
	if spec {
		check(v.Scale.SpecReplicasPath)
	}
	check(v.Scale.StatusReplicasPath)
	if p := v.Scale.LabelSelectorPath; p != nil {
		if s, _, err := unstructured.NestedString(u.Object, SplitPath(*p)...); err != nil {
			errs = append(errs, field.Invalid(field.NewPath(*p), s, err.Error()))
		}
	}
	return errs
}

// SplitPath turns a scale path (".spec.replicas") into its fields.
func SplitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "."), ".")
}

// Decode prunes, coerces and defaults a decoded object of this version as kube's
// decoder for custom resources does: the metadata is made an ObjectMeta, fields the
// schema does not know are dropped (their paths returned, for fieldValidation Strict
// and Warn), and the schema's defaults are set.
func (v *Version) Decode(u *unstructured.Unstructured) (unknown []string, err error) {
	kind, foundKind, err := unstructured.NestedString(u.Object, "kind")
	if err != nil {
		return nil, err
	}
	apiVersion, foundAPIVersion, err := unstructured.NestedString(u.Object, "apiVersion")
	if err != nil {
		return nil, err
	}
	om, foundMeta, metaUnknown, err := objectmeta.GetObjectMetaWithOptions(u.Object, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, err
	}
	unknown = append(unknown, metaUnknown...)
	unknown = append(unknown, v.Prune(u.Object)...)
	defaulting.PruneNonNullableNullsWithoutDefaults(u.Object, v.structural)
	ferr, paths := objectmeta.CoerceWithOptions(nil, u.Object, v.structural, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		return nil, field.ErrorList{ferr}.ToAggregate()
	}
	unknown = append(unknown, paths...)
	if foundKind {
		u.SetKind(kind)
	}
	if foundAPIVersion {
		u.SetAPIVersion(apiVersion)
	}
	if foundMeta {
		if err := objectmeta.SetObjectMeta(u.Object, om); err != nil {
			return nil, err
		}
	}
	v.Default(u.Object)
	return unknown, nil
}
