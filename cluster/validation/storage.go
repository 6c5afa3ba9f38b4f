package validation

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages and paths follow kube-apiserver's ValidatePersistentVolume,
// ValidatePersistentVolumeClaim and storage's ValidateStorageClass.

var supportedAccessModes = sets.New(string(corev1.ReadWriteOnce), string(corev1.ReadOnlyMany),
	string(corev1.ReadWriteMany), string(corev1.ReadWriteOncePod))

func persistentVolumeName(name string, prefix bool) []string {
	return path.IsValidPathSegmentName(name)
}

func accessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path, required string) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, required)}
	}
	var errs field.ErrorList
	for _, m := range modes {
		if !supportedAccessModes.Has(string(m)) {
			errs = append(errs, field.NotSupported(p, m, sets.List(supportedAccessModes)))
		}
		if m == corev1.ReadWriteOncePod && len(modes) > 1 {
			errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
		}
	}
	return errs
}

func volumeMode(m *corev1.PersistentVolumeMode, p *field.Path) field.ErrorList {
	if m != nil && *m != corev1.PersistentVolumeBlock && *m != corev1.PersistentVolumeFilesystem {
		return field.ErrorList{field.NotSupported(p, *m, []string{string(corev1.PersistentVolumeBlock), string(corev1.PersistentVolumeFilesystem)})}
	}
	return nil
}

func storageClassName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	return dns1123Subdomain(name, p)
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	errs := objectMeta(&pv.ObjectMeta, false, persistentVolumeName)
	spec := specPath
	errs = append(errs, accessModes(pv.Spec.AccessModes, spec.Child("accessModes"), "")...)
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(spec.Child("capacity"), ""))
	}
	for name, q := range pv.Spec.Capacity {
		if name != corev1.ResourceStorage {
			errs = append(errs, field.NotSupported(spec.Child("capacity"), name, []string{string(corev1.ResourceStorage)}))
			continue
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(spec.Child("capacity").Key(string(name)), q.String(), "must be greater than or equal to 0"))
		}
	}
	if p := pv.Spec.PersistentVolumeReclaimPolicy; p != "" && p != corev1.PersistentVolumeReclaimDelete &&
		p != corev1.PersistentVolumeReclaimRecycle && p != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(spec.Child("persistentVolumeReclaimPolicy"), p, []string{"Delete", "Recycle", "Retain"}))
	}
	errs = append(errs, storageClassName(pv.Spec.StorageClassName, spec.Child("storageClassName"))...)
	errs = append(errs, volumeMode(pv.Spec.VolumeMode, spec.Child("volumeMode"))...)
	errs = append(errs, persistentVolumeSource(&pv.Spec, spec)...)
	return errs
}

// persistentVolumeSource requires exactly one source (found by reflection, as for pod
// volumes) and checks the two webkube can mount: hostPath and local.
func persistentVolumeSource(spec *corev1.PersistentVolumeSpec, p *field.Path) field.ErrorList {
	var set []string
	rv := reflect.ValueOf(&spec.PersistentVolumeSource).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if !rv.Field(i).IsNil() {
			set = append(set, strings.Split(rv.Type().Field(i).Tag.Get("json"), ",")[0])
		}
	}
	if len(set) == 0 {
		return field.ErrorList{field.Required(p, "must specify a volume type")}
	}
	var errs field.ErrorList
	for _, name := range set[1:] {
		errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
	}
	switch {
	case spec.HostPath != nil:
		if spec.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		}
	case spec.Local != nil:
		if spec.Local.Path == "" {
			errs = append(errs, field.Required(p.Child("local", "path"), ""))
		}
		if spec.NodeAffinity == nil || spec.NodeAffinity.Required == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	return errs
}

func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := append(metaUpdate(&pv.ObjectMeta, &old.ObjectMeta), validatePersistentVolume(pv)...)
	if !equality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, old.Spec.VolumeMode, specPath.Child("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, specPath.Child("nodeAffinity"))...)
	}
	return errs
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := objectMeta(&pvc.ObjectMeta, true, nameIsDNSSubdomain)
	spec := specPath
	errs = append(errs, accessModes(pvc.Spec.AccessModes, spec.Child("accessModes"), "at least 1 access mode is required")...)
	if pvc.Spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(pvc.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, spec.Child("selector"))...)
	}
	storagePath := spec.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Cmp(resource.Quantity{}) <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if pvc.Spec.StorageClassName != nil {
		errs = append(errs, storageClassName(*pvc.Spec.StorageClassName, spec.Child("storageClassName"))...)
	}
	errs = append(errs, volumeMode(pvc.Spec.VolumeMode, spec.Child("volumeMode"))...)
	return errs
}

// validatePersistentVolumeClaimUpdate: a claim's spec is fixed once created, except that
// the binder sets volumeName once, a class may be given to a claim that had none while
// unbound, and a bound claim's storage request may grow.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := append(metaUpdate(&pvc.ObjectMeta, &old.ObjectMeta), validatePersistentVolumeClaim(pvc)...)
	o, n := old.Spec.DeepCopy(), pvc.Spec.DeepCopy()
	if old.Spec.VolumeName == "" {
		o.VolumeName = n.VolumeName
	}
	if old.Spec.StorageClassName == nil && old.Spec.VolumeName == "" {
		o.StorageClassName = n.StorageClassName
	}
	oldQ, newQ := old.Spec.Resources.Requests[corev1.ResourceStorage], pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if pvc.Status.Phase == corev1.ClaimBound && n.Resources.Requests != nil {
		n.Resources.Requests[corev1.ResourceStorage] = oldQ
		if newQ.Cmp(oldQ) < 0 {
			errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
		}
	}
	o.VolumeAttributesClassName, n.VolumeAttributesClassName = nil, nil
	if !equality.Semantic.DeepEqual(o, n) {
		errs = append(errs, field.Forbidden(specPath, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	return errs
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	errs := objectMeta(&sc.ObjectMeta, false, nameIsDNSSubdomain)
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(field.NewPath("provisioner"), ""))
	} else {
		for _, msg := range utilvalidation.IsQualifiedName(strings.ToLower(sc.Provisioner)) {
			errs = append(errs, field.Invalid(field.NewPath("provisioner"), sc.Provisioner, msg))
		}
	}
	if p := sc.ReclaimPolicy; p != nil && *p != corev1.PersistentVolumeReclaimDelete && *p != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, []string{"Delete", "Retain"}))
	}
	if m := sc.VolumeBindingMode; m != nil && *m != storagev1.VolumeBindingImmediate && *m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), *m,
			[]string{string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer)}))
	}
	return errs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := append(metaUpdate(&sc.ObjectMeta, &old.ObjectMeta), validateStorageClass(sc)...)
	if !equality.Semantic.DeepEqual(sc.Parameters, old.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !equality.Semantic.DeepEqual(sc.ReclaimPolicy, old.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
	return errs
}
