package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Columns and cells follow kubernetes' printPersistentVolume, printPersistentVolumeClaim
// and printStorageClass.

// BetaStorageClassAnnotation is the annotation that named a class before
// spec.storageClassName; kubectl still prefers it.
const BetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// IsDefaultClassAnnotation is the annotation marking the default StorageClass.
const IsDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

func init() {
	columns[schema.GroupResource{Resource: "persistentvolumes"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Capacity", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
		col("Access Modes", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
		col("Reclaim Policy", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
		col("Status", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
		col("Claim", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
		col("StorageClass", "string", "StorageClass of the pv"),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
		col("Reason", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
		ageColumn,
		wide("VolumeMode", "string", "The VolumeMode of the pv"),
	}
	columns[schema.GroupResource{Resource: "persistentvolumeclaims"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
		col("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
		col("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
		col("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
		col("StorageClass", "string", "StorageClass of the pvc"),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
		ageColumn,
		wide("VolumeMode", "string", "The VolumeMode of the pvc"),
	}
	columns[schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Provisioner", "string", "Indicates the type of the provisioner."),
		col("ReclaimPolicy", "string", "Indicates the type of the reclaim policy."),
		col("VolumeBindingMode", "string", "Indicates the type of the volumeBindingMode."),
		col("AllowVolumeExpansion", "string", "Indicates whether the storage class allow volume expand."),
		ageColumn,
	}
}

// AccessModesString is kubectl's GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order.
func AccessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

// ClaimClass is the class a claim asks for: the beta annotation wins, as in kubectl.
func ClaimClass(pvc *corev1.PersistentVolumeClaim) string {
	if c, ok := pvc.Annotations[BetaStorageClassAnnotation]; ok {
		return c
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// VolumeClass is the class of a PersistentVolume, the beta annotation first.
func VolumeClass(pv *corev1.PersistentVolume) string {
	if c, ok := pv.Annotations[BetaStorageClassAnnotation]; ok {
		return c
	}
	return pv.Spec.StorageClassName
}

func unsetOr(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeModeCell(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func persistentVolumeCells(pv *corev1.PersistentVolume, now time.Time) []interface{} {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	return []interface{}{pv.Name, size.String(), AccessModesString(pv.Spec.AccessModes),
		string(pv.Spec.PersistentVolumeReclaimPolicy), phase, claim, VolumeClass(pv),
		unsetOr(pv.Spec.VolumeAttributesClassName), pv.Status.Reason, age(pv.CreationTimestamp, now),
		volumeModeCell(pv.Spec.VolumeMode)}
}

func persistentVolumeClaimCells(pvc *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		modes = AccessModesString(pvc.Status.AccessModes)
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	return []interface{}{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, ClaimClass(pvc),
		unsetOr(pvc.Spec.VolumeAttributesClassName), age(pvc.CreationTimestamp, now), volumeModeCell(pvc.Spec.VolumeMode)}
}

func storageClassCells(sc *storagev1.StorageClass, now time.Time) []interface{} {
	name := sc.Name
	if IsDefaultClass(sc) {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		binding = string(*sc.VolumeBindingMode)
	}
	expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	return []interface{}{name, sc.Provisioner, reclaim, binding, expand, age(sc.CreationTimestamp, now)}
}

// IsDefaultClass reports the default-class annotation (or its beta form) set to "true".
func IsDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[IsDefaultClassAnnotation] == "true" ||
		sc.Annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true"
}
