package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateVolumeMounts checks a container's mounts against the pod's usable volumes and the
// container's own block devices (kube-apiserver's ValidateVolumeMounts).
func validateVolumeMounts(c *corev1.Container, volumes map[string]*corev1.VolumeSource, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	// The sets are made only for a container with more than one mount, or with devices:
	// most have one mount, the ServiceAccount's.
	var paths, devNames, devPaths sets.Set[string]
	if len(c.VolumeMounts) > 1 {
		paths = sets.New[string]()
	}
	if len(c.VolumeDevices) > 0 {
		devNames, devPaths = sets.New[string](), sets.New[string]()
	}
	for _, d := range c.VolumeDevices {
		devNames.Insert(d.Name)
		devPaths.Insert(d.DevicePath)
	}
	for i, m := range c.VolumeMounts {
		p := path.index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.child("name").path(), ""))
		}
		vol, ok := volumes[m.Name]
		if !ok {
			errs = append(errs, field.NotFound(p.child("name").path(), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(p.child("mountPath").path(), ""))
		}
		if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.child("mountPath").path(), m.MountPath, "must be unique"))
		}
		if paths != nil {
			paths.Insert(m.MountPath)
		}
		if devNames.Has(m.Name) {
			errs = append(errs, field.Invalid(p.child("name").path(), m.Name, "must not already exist in volumeDevices"))
		}
		if devPaths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.child("mountPath").path(), m.MountPath, "must not already exist as a path in volumeDevices"))
		}
		if ok && vol.Image != nil {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.child("subPath").path(), m.SubPath, "not allowed in image volume sources"))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Invalid(p.child("subPathExpr").path(), m.SubPathExpr, "not allowed in image volume sources"))
			}
		}
		// kube-apiserver reports these on the list, without the mount's index.
		if m.SubPath != "" {
			errs = append(errs, localDescendingPath(m.SubPath, path.child("subPath").path())...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.child("subPathExpr").path(), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, localDescendingPath(m.SubPathExpr, path.child("subPathExpr").path())...)
		}
		errs = append(errs, mountPropagation(m, c, path.child("mountPropagation"))...)
		errs = append(errs, recursiveReadOnly(m, path.child("recursiveReadOnly"))...)
	}
	return errs
}

// mountPropagation: a known mode; Bidirectional (mounts flow back to the host) only for a
// privileged container.
func mountPropagation(m corev1.VolumeMount, c *corev1.Container, lp lazyPath) field.ErrorList {
	mp := m.MountPropagation
	if mp == nil {
		return nil
	}
	path := lp.path()
	errs := enum(string(*mp), path, string(corev1.MountPropagationBidirectional), string(corev1.MountPropagationHostToContainer), string(corev1.MountPropagationNone))
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	if *mp == corev1.MountPropagationBidirectional && !privileged {
		errs = append(errs, field.Forbidden(path, "Bidirectional mount propagation is available only to privileged containers"))
	}
	return errs
}

// recursiveReadOnly only makes sense on a read-only mount that does not propagate.
func recursiveReadOnly(m corev1.VolumeMount, lp lazyPath) field.ErrorList {
	r := m.RecursiveReadOnly
	if r == nil {
		return nil
	}
	path := lp.path()
	switch *r {
	case corev1.RecursiveReadOnlyDisabled:
		return nil
	case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
		var errs field.ErrorList
		if !m.ReadOnly {
			errs = append(errs, field.Forbidden(path, "may only be specified when readOnly is true"))
		}
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			errs = append(errs, field.Forbidden(path, "may only be specified when mountPropagation is None or not specified"))
		}
		return errs
	}
	return field.ErrorList{field.NotSupported(path, *r, []corev1.RecursiveReadOnlyMode{
		corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible})}
}

// validateVolumeDevices checks raw block devices: each from a claim, at its own path, and
// not also mounted as a filesystem.
func validateVolumeDevices(c *corev1.Container, volumes map[string]*corev1.VolumeSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	mountNames, mountPaths := sets.New[string](), sets.New[string]()
	for _, m := range c.VolumeMounts {
		mountNames.Insert(m.Name)
		mountPaths.Insert(m.MountPath)
	}
	names, paths := sets.New[string](), sets.New[string]()
	for i, d := range c.VolumeDevices {
		p := path.Index(i)
		if d.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if names.Has(d.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "must be unique"))
		}
		switch vol, ok := volumes[d.Name]; {
		case !ok:
			errs = append(errs, field.NotFound(p.Child("name"), d.Name))
		case vol.PersistentVolumeClaim == nil && vol.Ephemeral == nil:
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(p.Child("devicePath"), ""))
		}
		if paths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must be unique"))
		}
		if hasBackstep(d.DevicePath) {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "can not contain backsteps ('..')"))
		} else {
			paths.Insert(d.DevicePath)
		}
		if mountNames.Has(d.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), d.Name, "must not already exist in volumeMounts"))
		}
		if mountPaths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must not already exist as a path in volumeMounts"))
		}
		if d.Name != "" {
			names.Insert(d.Name)
		}
	}
	return errs
}

// hasBackstep: the path has a ".." element.
func hasBackstep(p string) bool {
	for part := range strings.SplitSeq(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// validateEnvFrom checks envFrom: one source each, named as its kind names objects, and a
// prefix that makes names kube accepts.
func validateEnvFrom(srcs []corev1.EnvFromSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range srcs {
		p := path.Index(i)
		if s.Prefix != "" {
			for _, msg := range utilvalidation.IsRelaxedEnvVarName(s.Prefix) {
				errs = append(errs, field.Invalid(p.Child("prefix"), s.Prefix, msg))
			}
		}
		n := 0
		if r := s.ConfigMapRef; r != nil {
			n++
			errs = append(errs, envSourceName(r.Name, p.Child("configMapRef", "name"))...)
		}
		if r := s.SecretRef; r != nil {
			n++
			errs = append(errs, envSourceName(r.Name, p.Child("secretRef", "name"))...)
		}
		// Both reported on the list, as kube-apiserver does.
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(path, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// envSourceName: a ConfigMap's or Secret's name; kube checks it as a prefix (a trailing
// '-' is allowed).
func envSourceName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, true) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}
