package validation

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var specPath = field.NewPath("spec")

func validatePodCreate(pod *corev1.Pod) field.ErrorList {
	errs := objectMeta(&pod.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, validatePodSpec(&pod.Spec, specPath)...)
	errs = append(errs, containersOnlyForPod(pod.Spec.Containers, lazy(specPath).child("containers"))...)
	if len(pod.Spec.InitContainers) > 0 {
		errs = append(errs, containersOnlyForPod(pod.Spec.InitContainers, lazy(specPath).child("initContainers"))...)
	}
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// containersOnlyForPod holds the checks kube-apiserver makes on pods but not on pod
// templates: a template may leave the image for something else to fill in, a pod may not.
func containersOnlyForPod(cs []corev1.Container, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	for i, c := range cs {
		p := path.index(i).child("image")
		if c.Image == "" {
			errs = append(errs, field.Required(p.path(), ""))
		} else if strings.TrimSpace(c.Image) != c.Image {
			errs = append(errs, field.Invalid(p.path(), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	return errs
}

// validateTemplateMeta checks a template's labels and annotations; kube-apiserver reports
// them at template.labels, not template.metadata.labels.
func validateTemplateMeta(t *corev1.PodTemplateSpec, path *field.Path) field.ErrorList {
	errs := labels(t.Labels, path.Child("labels"))
	return append(errs, apivalidation.ValidateAnnotations(t.Annotations, path.Child("annotations"))...)
}

// validatePodTemplateSpec validates a template inside a ReplicaSet or Deployment.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, path *field.Path) field.ErrorList {
	errs := validateTemplateMeta(t, path)
	errs = append(errs, validatePodSpec(&t.Spec, path.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(path.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// podContext is what a container's checks need to know of its pod: the volumes it may
// mount (those without errors, as kube-apiserver counts them) and whether the pod shares
// the host's user namespace.
type podContext struct {
	volumes   map[string]*corev1.VolumeSource
	hostUsers bool
}

func newPodContext(spec *corev1.PodSpec, volumes map[string]*corev1.VolumeSource) podContext {
	return podContext{volumes: volumes, hostUsers: spec.HostUsers == nil || *spec.HostUsers}
}

// validatePodSpec checks a pod's or a template's spec. Its paths are lazy (see lazyPath):
// a valid spec makes none.
func validatePodSpec(spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	lp := lazy(path)
	// Kept on the stack while a pod has at most 8 volumes (the map is not kept).
	volumes := make(map[string]*corev1.VolumeSource, len(spec.Volumes))
	errs := validateVolumes(spec.Volumes, volumes, lp.child("volumes"))
	pc := newPodContext(spec, volumes)
	errs = append(errs, validateContainers(spec.Containers, pc, lp.child("containers"))...)
	if len(spec.InitContainers) > 0 {
		errs = append(errs, validateInitContainers(spec.InitContainers, spec.Containers, pc, lp.child("initContainers"))...)
	}
	if len(spec.EphemeralContainers) > 0 {
		errs = append(errs, validateEphemeralContainers(spec, pc, lp.child("ephemeralContainers"))...)
	}
	errs = append(errs, validateHostPorts(spec, lp)...)
	errs = append(errs, validateRestartPolicy(spec.RestartPolicy, lp.child("restartPolicy"))...)
	errs = append(errs, validateDNSPolicy(spec.DNSPolicy, lp.child("dnsPolicy"))...)
	if len(spec.NodeSelector) > 0 {
		errs = append(errs, labels(spec.NodeSelector, path.Child("nodeSelector"))...)
	}
	errs = append(errs, validateTolerations(spec.Tolerations, lp.child("tolerations"))...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, dns1123SubdomainAt(spec.ServiceAccountName, lp.child("serviceAccountName"))...)
	}
	if spec.NodeName != "" {
		errs = append(errs, dns1123SubdomainAt(spec.NodeName, lp.child("nodeName"))...)
	}
	if spec.Hostname != "" {
		errs = append(errs, dns1123LabelAt(spec.Hostname, lp.child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, dns1123LabelAt(spec.Subdomain, lp.child("subdomain"))...)
	}
	errs = append(errs, validateDNSConfig(spec, lp.child("dnsConfig"))...)
	errs = append(errs, validatePodPolicies(spec, lp)...)
	for i, ha := range spec.HostAliases {
		p := path.Child("hostAliases").Index(i)
		errs = append(errs, utilvalidation.IsValidIP(p.Child("ip"), ha.IP)...)
		for j, h := range ha.Hostnames {
			errs = append(errs, dns1123Subdomain(h, p.Child("hostnames").Index(j))...)
		}
	}
	errs = append(errs, podSecurityContext(spec, lp)...)
	if spec.Affinity != nil {
		errs = append(errs, validateAffinity(spec.Affinity, path.Child("affinity"))...)
	}
	errs = append(errs, hostProcessPod(spec, lp)...)
	errs = append(errs, hostUsersPod(spec, lp)...)
	errs = append(errs, podOS(spec, lp)...)
	if d := spec.ActiveDeadlineSeconds; d != nil && (*d < 1 || *d > math.MaxInt32) {
		errs = append(errs, field.Invalid(path.Child("activeDeadlineSeconds"), *d, utilvalidation.InclusiveRangeError(1, math.MaxInt32)))
	}
	return errs
}

func validateRestartPolicy(p corev1.RestartPolicy, path lazyPath) field.ErrorList {
	switch p {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		return nil
	case "":
		return field.ErrorList{field.Required(path.path(), "")}
	}
	return field.ErrorList{field.NotSupported(path.path(), p, []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever})}
}

func validateDNSPolicy(p corev1.DNSPolicy, path lazyPath) field.ErrorList {
	switch p {
	case "":
		return field.ErrorList{field.Required(path.path(), "")}
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone:
		return nil
	}
	valid := []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	return field.ErrorList{field.NotSupported(path.path(), p, valid)}
}

// validateVolumes adds to valid the volumes the mounts may refer to: as in kube-apiserver,
// a volume with an error is not one, so a mount of it is reported as not found too.
func validateVolumes(vols []corev1.Volume, valid map[string]*corev1.VolumeSource, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	for i := range vols {
		v := &vols[i]
		p := path.index(i)
		ve := validateVolumeSource(&v.VolumeSource, p)
		if v.Name == "" {
			ve = append(ve, field.Required(p.child("name").path(), ""))
		} else {
			ve = append(ve, dns1123LabelAt(v.Name, p.child("name"))...)
		}
		if _, dup := valid[v.Name]; dup {
			ve = append(ve, field.Duplicate(p.child("name").path(), v.Name))
		}
		if len(ve) == 0 {
			valid[v.Name] = &v.VolumeSource
		}
		errs = append(errs, ve...)
	}
	return errs
}

// volumeSourceOrder is the order in which kube-apiserver looks at a volume's sources: the
// first one set is the volume's type, and each later one is reported as one too many.
var volumeSourceOrder = []string{"emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore",
	"secret", "nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
	"downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
	"portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image"}

// extraSourceName is where kube-apiserver reports a source as one too many, where that is
// not the source's own name (two spellings of its own).
var extraSourceName = map[string]string{"cephfs": "cephFS", "downwardAPI": "downwarAPI"}

// volumeSourceFields are VolumeSource's fields (their indices) in volumeSourceOrder, found
// once: reading struct tags for every volume cost more than checking the volume.
var volumeSourceFields = func() []int {
	t := reflect.TypeFor[corev1.VolumeSource]()
	byName := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		byName[name] = i
	}
	out := make([]int, len(volumeSourceOrder))
	for i, name := range volumeSourceOrder {
		f, ok := byName[name]
		if !ok {
			panic("validation: VolumeSource has no field " + name)
		}
		out[i] = f
	}
	return out
}()

// setVolumeSources appends to dst the JSON names of the sources set in s, in
// volumeSourceOrder (dst lets the caller keep them on its stack).
func setVolumeSources(s *corev1.VolumeSource, dst []string) []string {
	rv := reflect.ValueOf(s).Elem()
	for i, f := range volumeSourceFields {
		if !rv.Field(f).IsNil() {
			dst = append(dst, volumeSourceOrder[i])
		}
	}
	return dst
}

// validateVolumeSource requires exactly one source and checks the one that counts.
func validateVolumeSource(s *corev1.VolumeSource, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	var buf [2]string
	set := setVolumeSources(s, buf[:0])
	if len(set) == 0 {
		return field.ErrorList{field.Required(path.path(), "must specify a volume type")}
	}
	for _, name := range set[1:] {
		if n, ok := extraSourceName[name]; ok {
			name = n
		}
		errs = append(errs, field.Forbidden(path.child(name).path(), "may not specify more than 1 volume type"))
	}
	mode := func(m *int32, p lazyPath) {
		if m != nil && (*m < 0 || *m > 0o777) {
			errs = append(errs, field.Invalid(p.path(), *m, "must be a number between 0 and 0777 (octal), both inclusive"))
		}
	}
	switch set[0] {
	case "configMap":
		p := path.child("configMap")
		if s.ConfigMap.Name == "" {
			errs = append(errs, field.Required(p.child("name").path(), ""))
		}
		mode(s.ConfigMap.DefaultMode, p.child("defaultMode"))
	case "secret":
		p := path.child("secret")
		if s.Secret.SecretName == "" {
			errs = append(errs, field.Required(p.child("secretName").path(), ""))
		}
		mode(s.Secret.DefaultMode, p.child("defaultMode"))
	case "hostPath":
		if s.HostPath.Path == "" {
			errs = append(errs, field.Required(path.child("hostPath").child("path").path(), ""))
		}
	case "downwardAPI":
		mode(s.DownwardAPI.DefaultMode, path.child("downwardAPI").child("defaultMode"))
		errs = append(errs, validateDownwardAPIFiles(s.DownwardAPI.Items, path.child("downwardAPI"))...)
	case "projected":
		mode(s.Projected.DefaultMode, path.child("projected").child("defaultMode"))
		errs = append(errs, validateProjected(s.Projected, path.child("projected"))...)
	case "persistentVolumeClaim":
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(path.child("persistentVolumeClaim").child("claimName").path(), ""))
		}
	case "emptyDir":
		if l := s.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			errs = append(errs, field.Forbidden(path.child("emptyDir").child("sizeLimit").path(), "SizeLimit field must be a valid resource quantity"))
		}
	}
	return errs
}

func validateContainers(cs []corev1.Container, pc podContext, path lazyPath) field.ErrorList {
	if len(cs) == 0 {
		return field.ErrorList{field.Required(path.path(), "")}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range cs {
		c := &cs[i]
		p := path.index(i)
		errs = append(errs, containerName(c.Name, names, p.child("name"))...)
		errs = append(errs, validateContainer(c, pc, p)...)
		errs = append(errs, validateLifecycle(c, p)...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(p.child("restartPolicy").path(), "may not be set for non-init containers"))
		}
		errs = append(errs, containerProbes(c, p)...)
		if c.ReadinessProbe != nil && c.ReadinessProbe.TerminationGracePeriodSeconds != nil {
			errs = append(errs, field.Invalid(p.child("readinessProbe").child("terminationGracePeriodSeconds").path(), *c.ReadinessProbe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	return errs
}

// validateInitContainers checks init containers; their names must also differ from the
// regular containers' names, reported on the init container as kube-apiserver does.
func validateInitContainers(cs, regular []corev1.Container, pc podContext, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for _, c := range regular {
		names.Insert(c.Name)
	}
	for i := range cs {
		c := &cs[i]
		p := path.index(i)
		errs = append(errs, containerName(c.Name, names, p.child("name"))...)
		errs = append(errs, validateContainer(c, pc, p)...)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if c.RestartPolicy != nil && !sidecar {
			errs = append(errs, field.NotSupported(p.child("restartPolicy").path(), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
		}
		if sidecar {
			errs = append(errs, validateLifecycle(c, p)...)
			errs = append(errs, containerProbes(c, p)...)
			continue
		}
		if c.Lifecycle != nil {
			errs = append(errs, field.Forbidden(p.child("lifecycle").path(), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, field.Forbidden(p.child("livenessProbe").path(), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, field.Forbidden(p.child("readinessProbe").path(), "may not be set for init containers without restartPolicy=Always"))
		}
		if c.StartupProbe != nil {
			errs = append(errs, field.Forbidden(p.child("startupProbe").path(), "may not be set for init containers without restartPolicy=Always"))
		}
	}
	return errs
}

// containerProbes checks the probes c has (making no path for those it has not).
func containerProbes(c *corev1.Container, p lazyPath) field.ErrorList {
	var errs field.ErrorList
	if c.LivenessProbe != nil {
		errs = append(errs, validateProbe(c.LivenessProbe, p.child("livenessProbe"), true)...)
	}
	if c.ReadinessProbe != nil {
		errs = append(errs, validateProbe(c.ReadinessProbe, p.child("readinessProbe"), false)...)
	}
	if c.StartupProbe != nil {
		errs = append(errs, validateProbe(c.StartupProbe, p.child("startupProbe"), true)...)
	}
	return errs
}

func containerName(name string, seen sets.Set[string], path lazyPath) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(path.path(), "")}
	case seen.Has(name):
		return field.ErrorList{field.Duplicate(path.path(), name)}
	}
	seen.Insert(name)
	return dns1123LabelAt(name, path)
}

// validateContainer holds the checks common to init and regular containers.
func validateContainer(c *corev1.Container, pc podContext, path lazyPath) field.ErrorList {
	// Paths are made only for an error, or for the fields set that functions taking a
	// made path check: a container leaves most of its fields empty.
	var errs field.ErrorList
	if len(c.Ports) > 0 {
		errs = append(errs, validateContainerPorts(c.Ports, path.child("ports"))...)
	}
	if len(c.Env) > 0 {
		errs = append(errs, validateEnv(c.Env, path.child("env"))...)
	}
	if len(c.EnvFrom) > 0 {
		errs = append(errs, validateEnvFrom(c.EnvFrom, path.child("envFrom").path())...)
	}
	errs = append(errs, validateVolumeMounts(c, pc.volumes, path.child("volumeMounts"))...)
	if len(c.VolumeDevices) > 0 {
		errs = append(errs, validateVolumeDevices(c, pc.volumes, path.child("volumeDevices").path())...)
	}
	errs = append(errs, validateResources(&c.Resources, path.child("resources"))...)
	if c.SecurityContext != nil {
		errs = append(errs, containerSecurityContext(c.SecurityContext, pc.hostUsers, path.child("securityContext"))...)
	}
	switch c.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	case "":
		errs = append(errs, field.Required(path.child("imagePullPolicy").path(), ""))
	default:
		errs = append(errs, field.NotSupported(path.child("imagePullPolicy").path(), c.ImagePullPolicy, []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, field.Required(path.child("terminationMessagePolicy").path(), "must be 'File' or 'FallbackToLogsOnError'"))
	default:
		errs = append(errs, field.NotSupported(path.child("terminationMessagePolicy").path(), c.TerminationMessagePolicy,
			[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
	}
	return errs
}

// validateLifecycle checks the hooks of a container that may have them (a regular container
// or a sidecar); elsewhere a lifecycle is refused as a whole, its contents unchecked.
func validateLifecycle(c *corev1.Container, lp lazyPath) field.ErrorList {
	if c.Lifecycle == nil {
		return nil
	}
	errs := validateLifecycleHandler(c.Lifecycle.PostStart, lp.child("lifecycle").child("postStart"))
	return append(errs, validateLifecycleHandler(c.Lifecycle.PreStop, lp.child("lifecycle").child("preStop"))...)
}

func validateContainerPorts(ports []corev1.ContainerPort, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := path.index(i)
		if port.Name != "" {
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(p.child("name").path(), port.Name))
			} else {
				for _, msg := range utilvalidation.IsValidPortName(port.Name) {
					errs = append(errs, field.Invalid(p.child("name").path(), port.Name, msg))
				}
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.child("containerPort").path(), ""))
		} else {
			errs = append(errs, portNumAt(port.ContainerPort, p.child("containerPort"))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, portNumAt(port.HostPort, p.child("hostPort"))...)
		}
		errs = append(errs, protocolAt(string(port.Protocol), p.child("protocol"))...)
	}
	return errs
}

// validateHostPorts rejects two containers claiming the same host port, and host ports
// that differ from the container port on the host's network.
func validateHostPorts(spec *corev1.PodSpec, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	var seen sets.Set[string] // made at the first host port: most pods have none
	check := func(cs []corev1.Container, cpath lazyPath, regular bool) {
		for i, c := range cs {
			for j, port := range c.Ports {
				p := cpath.index(i).child("ports").index(j)
				// Defaulting gave each regular container's port its host port already.
				if spec.HostNetwork && regular && port.HostPort != 0 && port.HostPort != port.ContainerPort {
					errs = append(errs, field.Invalid(p.child("hostPort").path(), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
				}
				if port.HostPort == 0 {
					continue
				}
				key := fmt.Sprintf("%s/%s:%d", port.Protocol, port.HostIP, port.HostPort)
				if seen.Has(key) {
					errs = append(errs, field.Duplicate(p.child("hostPort").path(), key))
				}
				if seen == nil {
					seen = sets.New[string]()
				}
				seen.Insert(key)
			}
		}
	}
	check(spec.InitContainers, path.child("initContainers"), false)
	check(spec.Containers, path.child("containers"), true)
	return errs
}

var fieldRefPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations",
	"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// downwardFieldLabels are the pod fields the downward API knows at all; fieldRefPaths are
// those an env var may read.
var downwardFieldLabels = sets.New("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
	"metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
	"status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")

func validateEnv(env []corev1.EnvVar, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		p := path.index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(p.child("name").path(), ""))
		} else {
			// kube-apiserver 1.32 has RelaxedEnvironmentVariableValidation on by default.
			for _, msg := range utilvalidation.IsRelaxedEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(p.child("name").path(), e.Name, msg))
			}
		}
		if e.ValueFrom != nil {
			errs = append(errs, validateEnvVarSource(e, p.child("valueFrom").path())...)
		}
	}
	return errs
}

func validateEnvVarSource(e corev1.EnvVar, path *field.Path) field.ErrorList {
	src := e.ValueFrom
	if src == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if f := src.FieldRef; f != nil {
		n++
		fp := path.Child("fieldRef", "fieldPath")
		switch {
		case f.FieldPath == "":
			errs = append(errs, field.Required(fp, ""))
		case strings.HasPrefix(f.FieldPath, "metadata.labels[") || strings.HasPrefix(f.FieldPath, "metadata.annotations["):
		case !downwardFieldLabels.Has(f.FieldPath):
			// kube-apiserver converts the path first: one it does not know fails there.
			errs = append(errs, field.Invalid(fp, f.FieldPath, "error converting fieldPath: field label not supported: "+f.FieldPath))
		case !sets.New(fieldRefPaths...).Has(f.FieldPath):
			errs = append(errs, field.NotSupported(fp, f.FieldPath, fieldRefPaths))
		}
	}
	if r := src.ResourceFieldRef; r != nil {
		n++
		if r.Resource == "" {
			errs = append(errs, field.Required(path.Child("resourceFieldRef", "resource"), ""))
		}
	}
	if r := src.ConfigMapKeyRef; r != nil {
		n++
		errs = append(errs, nameMsgs(r.Name, apivalidation.NameIsDNSSubdomain, path.Child("configMapKeyRef", "name"))...)
		if r.Key == "" {
			errs = append(errs, field.Required(path.Child("configMapKeyRef", "key"), ""))
		}
	}
	if r := src.SecretKeyRef; r != nil {
		n++
		errs = append(errs, nameMsgs(r.Name, apivalidation.NameIsDNSSubdomain, path.Child("secretKeyRef", "name"))...)
		if r.Key == "" {
			errs = append(errs, field.Required(path.Child("secretKeyRef", "key"), ""))
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case n > 1:
		errs = append(errs, field.Invalid(path, "", "may not have more than one field specified at a time"))
	}
	if e.Value != "" {
		errs = append(errs, field.Invalid(path, "", "may not be specified when `value` is not empty"))
	}
	return errs
}

// localNonReservedPath is a local descending path not starting with "..", which the
// kubelet keeps for its own files.
func localNonReservedPath(target string, lp lazyPath) field.ErrorList {
	if !strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "..") && !hasBackstep(target) {
		return nil // the usual case, without making the path
	}
	path := lp.path()
	errs := localDescendingPath(target, path)
	if strings.HasPrefix(target, "..") && !strings.HasPrefix(target, "../") {
		errs = append(errs, field.Invalid(path, target, "must not start with '..'"))
	}
	return errs
}

// localDescendingPath keeps a subPath inside its volume: relative, and no "..".
func localDescendingPath(target string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(target, "/") {
		errs = append(errs, field.Invalid(path, target, "must be a relative path"))
	}
	if hasBackstep(target) {
		errs = append(errs, field.Invalid(path, target, "must not contain '..'"))
	}
	return errs
}

func validateResources(r *corev1.ResourceRequirements, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	check := func(list corev1.ResourceList, p lazyPath) {
		for name, q := range list {
			kp := p.key(string(name))
			if !isContainerResourceName(name) {
				errs = append(errs, field.Invalid(kp.path(), name, "must be a standard resource for containers"))
			}
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(kp.path(), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, path.child("limits"))
	check(r.Requests, path.child("requests"))
	for name, req := range r.Requests {
		lim, ok := r.Limits[name]
		if ok && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(path.child("requests").path(), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

func isContainerResourceName(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return true
	}
	s := string(name)
	if strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) {
		_, err := resource.ParseQuantity(strings.TrimPrefix(s, corev1.ResourceHugePagesPrefix))
		return err == nil
	}
	// Extended resources (example.com/gpu) are fully qualified names outside kubernetes.io.
	return strings.Contains(s, "/") && !strings.Contains(s, "kubernetes.io/") && len(utilvalidation.IsQualifiedName(s)) == 0
}

// validateProbe checks a probe; liveness and startup probes must succeed once to count.
func validateProbe(probe *corev1.Probe, path lazyPath, mustSucceedOnce bool) field.ErrorList {
	if probe == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validateHandler(&probe.ProbeHandler, path)...)
	errs = append(errs, nonNegativeAt(int64(probe.InitialDelaySeconds), path.child("initialDelaySeconds"))...)
	errs = append(errs, nonNegativeAt(int64(probe.TimeoutSeconds), path.child("timeoutSeconds"))...)
	errs = append(errs, nonNegativeAt(int64(probe.PeriodSeconds), path.child("periodSeconds"))...)
	errs = append(errs, nonNegativeAt(int64(probe.SuccessThreshold), path.child("successThreshold"))...)
	errs = append(errs, nonNegativeAt(int64(probe.FailureThreshold), path.child("failureThreshold"))...)
	if mustSucceedOnce && probe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(path.child("successThreshold").path(), probe.SuccessThreshold, "must be 1"))
	}
	if g := probe.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(path.child("terminationGracePeriodSeconds").path(), *g, "must be greater than 0"))
	}
	return errs
}

// validateHandler requires exactly one of exec, httpGet, tcpSocket, grpc.
func validateHandler(h *corev1.ProbeHandler, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	n := 0
	add := func(name string) bool {
		n++
		if n > 1 {
			errs = append(errs, field.Forbidden(path.child(name).path(), "may not specify more than 1 handler type"))
			return false
		}
		return true
	}
	if h.Exec != nil && add("exec") && len(h.Exec.Command) == 0 {
		errs = append(errs, field.Required(path.child("exec").child("command").path(), ""))
	}
	if h.HTTPGet != nil && add("httpGet") {
		errs = append(errs, validateHTTPGet(h.HTTPGet, path.child("httpGet"))...)
	}
	if h.TCPSocket != nil && add("tcpSocket") {
		errs = append(errs, portNumOrNameAt(h.TCPSocket.Port, path.child("tcpSocket").child("port"))...)
	}
	if h.GRPC != nil && add("grpc") {
		errs = append(errs, portNumAt(h.GRPC.Port, path.child("grpc").child("port"))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(path.path(), "must specify a handler type"))
	}
	return errs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, path lazyPath) field.ErrorList {
	if h == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	add := func(name string) bool {
		n++
		if n > 1 {
			errs = append(errs, field.Forbidden(path.child(name).path(), "may not specify more than 1 handler type"))
			return false
		}
		return true
	}
	if h.Exec != nil && add("exec") && len(h.Exec.Command) == 0 {
		errs = append(errs, field.Required(path.child("exec").child("command").path(), ""))
	}
	if h.HTTPGet != nil && add("httpGet") {
		errs = append(errs, validateHTTPGet(h.HTTPGet, path.child("httpGet"))...)
	}
	if h.TCPSocket != nil && add("tcpSocket") {
		errs = append(errs, portNumOrNameAt(h.TCPSocket.Port, path.child("tcpSocket").child("port"))...)
	}
	if h.Sleep != nil && add("sleep") && h.Sleep.Seconds < 0 {
		errs = append(errs, field.Invalid(path.child("sleep").child("seconds").path(), h.Sleep.Seconds, "must be non-negative"))
	}
	if n == 0 {
		errs = append(errs, field.Required(path.path(), "must specify a handler type"))
	}
	return errs
}

func validateHTTPGet(h *corev1.HTTPGetAction, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	if h.Path == "" {
		errs = append(errs, field.Required(path.child("path").path(), ""))
	}
	errs = append(errs, portNumOrNameAt(h.Port, path.child("port"))...)
	if h.Scheme != corev1.URISchemeHTTP && h.Scheme != corev1.URISchemeHTTPS {
		errs = append(errs, field.NotSupported(path.child("scheme").path(), h.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for _, hd := range h.HTTPHeaders {
		// Reported on the list as a whole, as kube-apiserver does.
		for _, msg := range utilvalidation.IsHTTPHeaderName(hd.Name) {
			errs = append(errs, field.Invalid(path.child("httpHeaders").path(), h.HTTPHeaders, msg))
		}
	}
	return errs
}

func validateTolerations(ts []corev1.Toleration, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		p := path.index(i)
		if t.Key != "" {
			errs = append(errs, labelName(t.Key, p.child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(p.child("operator").path(), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(p.child("effect").path(), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range utilvalidation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(p.child("operator").path(), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(p.child("operator").path(), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(p.child("operator").path(), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			errs = append(errs, taintEffect(t.Effect, p.child("effect"))...)
		}
	}
	return errs
}

func taintEffect(e corev1.TaintEffect, path lazyPath) field.ErrorList {
	switch e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	return field.ErrorList{field.NotSupported(path.path(), e, []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute})}
}

// labelName is a qualified name (a toleration's or a taint's key).
func labelName(name string, path lazyPath) field.ErrorList {
	if isQualifiedName(name) {
		return nil // the usual case, without the regular expression's cost
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(name) {
		errs = append(errs, field.Invalid(path.path(), name, msg))
	}
	return errs
}

// updatablePodSpecFields is the list kube-apiserver 1.32 prints when a pod update changes
// anything else.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := metaUpdate(&pod.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePodSpec(&pod.Spec, specPath)...)
	errs = append(errs, containersOnlyForPod(pod.Spec.Containers, lazy(specPath).child("containers"))...)
	if len(pod.Spec.InitContainers) > 0 {
		errs = append(errs, containersOnlyForPod(pod.Spec.InitContainers, lazy(specPath).child("initContainers"))...)
	}

	if len(pod.Spec.Containers) != len(old.Spec.Containers) {
		return append(errs, field.Forbidden(specPath.Child("containers"), "pod updates may not add or remove containers"))
	}
	if len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath.Child("initContainers"), "pod updates may not add or remove containers"))
	}
	if o := old.Spec.ActiveDeadlineSeconds; o != nil {
		n := pod.Spec.ActiveDeadlineSeconds
		if n == nil {
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), n, "must not update from a positive integer to nil value"))
		} else if *n > *o {
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *n, "must be less than or equal to previous value"))
		}
	}
	errs = append(errs, onlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)

	// Take the old spec, apply the changes that are allowed, and anything left over is a
	// change that is not.
	munged := old.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = pod.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = pod.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
	munged.Tolerations = pod.Spec.Tolerations
	if old.Spec.NodeName == "" {
		// Binding a pod to a node is a pod update in webkube's API server (pods/binding goes
		// through ValidateUpdate), so the first assignment of spec.nodeName is allowed.
		// kube-apiserver allows it only through pods/binding; changing it later is refused.
		munged.NodeName = pod.Spec.NodeName
	}
	if o, n := old.Spec.TerminationGracePeriodSeconds, pod.Spec.TerminationGracePeriodSeconds; o != nil && *o < 0 && n != nil && *n == 1 {
		munged.TerminationGracePeriodSeconds = n
	}
	if !equality.Semantic.DeepEqual(*munged, pod.Spec) {
		diff := cmp.Diff(*munged, pod.Spec)
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v", strings.Join(updatablePodSpecFields, ","), diff)))
	}
	return errs
}

// onlyAddedTolerations lets an update add tolerations but keeps every old one (its
// tolerationSeconds may only shrink).
func onlyAddedTolerations(tols, old []corev1.Toleration, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, o := range old {
		found := false
		for _, n := range tols {
			oc, nc := o, n
			oc.TolerationSeconds, nc.TolerationSeconds = nil, nil
			if oc != nc {
				continue
			}
			if o.TolerationSeconds == nil || (n.TolerationSeconds != nil && *n.TolerationSeconds <= *o.TolerationSeconds) {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, field.Forbidden(path, "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}
	return errs
}

func userID(id *int64, path *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidUserID(*id) {
		errs = append(errs, field.Invalid(path, *id, msg))
	}
	return errs
}

func groupID(id *int64, path *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidGroupID(*id) {
		errs = append(errs, field.Invalid(path, *id, msg))
	}
	return errs
}

// volumeFieldRefPaths are the pod fields a downwardAPI volume may hold (kube's
// validVolumeDownwardAPIFieldPathExpressions), besides one label or annotation.
var volumeFieldRefPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}

var resourceFieldRefNames = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory"}

// validateDownwardAPIFiles follows kube's validateDownwardAPIVolumeFile, which reports every
// item's errors at the volume (or projected source) itself, without the item's index.
func validateDownwardAPIFiles(items []corev1.DownwardAPIVolumeFile, p lazyPath) field.ErrorList {
	var errs field.ErrorList
	for _, it := range items {
		if it.Path == "" {
			errs = append(errs, field.Required(p.child("path").path(), ""))
		}
		errs = append(errs, localNonReservedPath(it.Path, p.child("path"))...)
		if it.Mode != nil && (*it.Mode < 0 || *it.Mode > 0o777) {
			errs = append(errs, field.Invalid(p.child("mode").path(), *it.Mode, "must be a number between 0 and 0777 (octal), both inclusive"))
		}
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(p.path(), "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil:
			f := it.FieldRef.FieldPath
			if !strings.HasPrefix(f, "metadata.labels['") && !strings.HasPrefix(f, "metadata.annotations['") &&
				!slices.Contains(volumeFieldRefPaths, f) {
				errs = append(errs, field.NotSupported(p.child("fieldRef").child("fieldPath").path(), f, volumeFieldRefPaths))
			}
		case it.ResourceFieldRef != nil:
			rp := p.child("resourceFieldRef")
			if it.ResourceFieldRef.ContainerName == "" {
				errs = append(errs, field.Required(rp.child("containerName").path(), ""))
			}
			if !slices.Contains(resourceFieldRefNames, it.ResourceFieldRef.Resource) {
				errs = append(errs, field.NotSupported(rp.child("resource").path(), it.ResourceFieldRef.Resource, resourceFieldRefNames))
			}
		default:
			errs = append(errs, field.Required(p.path(), "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

// validateProjected checks each source has exactly one kind, and its own fields.
func validateProjected(s *corev1.ProjectedVolumeSource, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	for i, src := range s.Sources {
		p := path.child("sources").index(i)
		n := 0
		if src.Secret != nil {
			n++
		}
		if src.ConfigMap != nil {
			n++
		}
		if src.DownwardAPI != nil {
			n++
			errs = append(errs, validateDownwardAPIFiles(src.DownwardAPI.Items, p.child("downwardAPI"))...)
		}
		if t := src.ServiceAccountToken; t != nil {
			n++
			// kube-apiserver reports the token's path at the projected volume's "path".
			if t.Path == "" {
				errs = append(errs, field.Required(path.child("path").path(), ""))
			} else {
				errs = append(errs, localNonReservedPath(t.Path, path.child("path"))...)
			}
			if e := t.ExpirationSeconds; e != nil && *e < 600 {
				errs = append(errs, field.Invalid(p.child("serviceAccountToken").child("expirationSeconds").path(), *e,
					"may not specify a duration less than 10 minutes"))
			} else if e != nil && *e > 1<<32 {
				errs = append(errs, field.Invalid(p.child("serviceAccountToken").child("expirationSeconds").path(), *e,
					"may not specify a duration larger than 2^32 seconds"))
			}
		}
		if src.ClusterTrustBundle != nil {
			n++
		}
		if n != 1 {
			errs = append(errs, field.Forbidden(p.path(), "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}
