package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateEphemeralContainersUpdate checks an update through pods/ephemeralcontainers as
// kube-apiserver's ValidatePodEphemeralContainersUpdate: ephemeral containers are only
// added (never changed or removed), named apart from every other container, target an
// existing container, and set none of what only regular containers have.
func ValidateEphemeralContainersUpdate(pod, old *corev1.Pod) field.ErrorList {
	path := field.NewPath("spec", "ephemeralContainers")
	errs := onlyAddedEphemeral(pod.Spec.EphemeralContainers, old.Spec.EphemeralContainers, path)
	volumes := make(map[string]*corev1.VolumeSource, len(pod.Spec.Volumes))
	validateVolumes(pod.Spec.Volumes, volumes, lazy(specPath).child("volumes"))
	return append(errs, validateEphemeralContainers(&pod.Spec, newPodContext(&pod.Spec, volumes), lazy(path))...)
}

// validateEphemeralContainers checks each ephemeral container as a container, named apart
// from every other container, targeting an existing one and setting none of what only
// regular containers have.
func validateEphemeralContainers(spec *corev1.PodSpec, pc podContext, path lazyPath) field.ErrorList {
	if len(spec.EphemeralContainers) == 0 {
		return nil
	}
	var errs field.ErrorList
	names, targets := sets.New[string](), sets.New[string]()
	for _, c := range append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...) {
		names.Insert(c.Name)
		targets.Insert(c.Name)
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		p := path.index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		errs = append(errs, containerName(c.Name, names, p.child("name"))...)
		if c.Image == "" {
			errs = append(errs, field.Required(p.child("image").path(), ""))
		}
		errs = append(errs, validateContainer(&c, pc, p)...)
		errs = append(errs, ephemeralForbidden(&c, p.path())...)
		if t := ec.TargetContainerName; t != "" && !targets.Has(t) {
			errs = append(errs, field.NotFound(p.child("targetContainerName").path(), t))
		}
	}
	return errs
}

// onlyAddedEphemeral refuses a change or removal of an existing ephemeral container.
func onlyAddedEphemeral(now, old []corev1.EphemeralContainer, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range now {
		byName[now[i].Name] = &now[i]
	}
	for i := range old {
		n := byName[old[i].Name]
		switch {
		case n == nil:
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", old[i].Name)))
		case !equality.Semantic.DeepEqual(old[i], *n):
			errs = append(errs, field.Forbidden(path.Index(i), fmt.Sprintf("existing ephemeral containers %q may not be changed\n", old[i].Name)))
		}
	}
	return errs
}

// ephemeralForbidden lists the fields an ephemeral container may not set.
func ephemeralForbidden(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	forbid := func(set bool, at *field.Path) {
		if set {
			errs = append(errs, field.Forbidden(at, "cannot be set for an Ephemeral Container"))
		}
	}
	forbid(len(c.Ports) > 0, p.Child("ports"))
	forbid(c.LivenessProbe != nil, p.Child("livenessProbe"))
	forbid(c.ReadinessProbe != nil, p.Child("readinessProbe"))
	forbid(c.StartupProbe != nil, p.Child("startupProbe"))
	forbid(c.Lifecycle != nil, p.Child("lifecycle"))
	forbid(len(c.Resources.Limits) > 0 || len(c.Resources.Requests) > 0 || len(c.Resources.Claims) > 0, p.Child("resources"))
	forbid(c.RestartPolicy != nil, p.Child("restartPolicy"))
	forbid(len(c.ResizePolicy) > 0, p.Child("resizePolicy"))
	for i, m := range c.VolumeMounts {
		// A subPath is a bind mount kept until the pod ends: not for a debugging container.
		forbid(m.SubPath != "", p.Child("volumeMounts").Index(i).Child("subPath"))
		forbid(m.SubPathExpr != "", p.Child("volumeMounts").Index(i).Child("subPathExpr"))
	}
	return errs
}
