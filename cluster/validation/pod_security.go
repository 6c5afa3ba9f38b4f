package validation

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file holds the security choices of a pod and of its containers, each by the rule
// kube-apiserver applies to it (its validatePodSpecSecurityContext, ValidateSecurityContext,
// validateWindows/validateLinux and validateHostUsers).

// podSecurityContext checks spec.securityContext and the host namespaces that go with it.
func podSecurityContext(spec *corev1.PodSpec, path lazyPath) field.ErrorList {
	sc := spec.SecurityContext
	if sc == nil {
		return nil
	}
	p := path.child("securityContext")
	var errs field.ErrorList
	// Paths are made only for the fields set: a pod's security context is mostly empty.
	if sc.RunAsUser != nil {
		errs = append(errs, userID(sc.RunAsUser, p.child("runAsUser").path())...)
	}
	if sc.RunAsGroup != nil {
		errs = append(errs, groupID(sc.RunAsGroup, p.child("runAsGroup").path())...)
	}
	if sc.FSGroup != nil {
		errs = append(errs, groupID(sc.FSGroup, p.child("fsGroup").path())...)
	}
	for i, g := range sc.SupplementalGroups {
		errs = append(errs, groupID(&g, p.child("supplementalGroups").index(i).path())...)
	}
	if s := spec.ShareProcessNamespace; s != nil && *s && spec.HostPID {
		errs = append(errs, field.Invalid(p.child("shareProcessNamespace").path(), *s, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	if len(sc.Sysctls) > 0 {
		errs = append(errs, sysctls(spec, p.child("sysctls").path())...)
	}
	if sc.FSGroupChangePolicy != nil {
		errs = append(errs, enum(string(*sc.FSGroupChangePolicy), p.child("fsGroupChangePolicy").path(),
			string(corev1.FSGroupChangeAlways), string(corev1.FSGroupChangeOnRootMismatch))...)
	}
	if sc.SeccompProfile != nil {
		errs = append(errs, validateSeccomp(sc.SeccompProfile, p.child("seccompProfile").path())...)
	}
	if sc.WindowsOptions != nil {
		errs = append(errs, windowsOptions(sc.WindowsOptions, p.child("windowsOptions").path())...)
	}
	if sc.AppArmorProfile != nil {
		errs = append(errs, validateAppArmor(sc.AppArmorProfile, p.child("appArmorProfile").path())...)
	}
	return errs
}

// sysctlName is a sysctl written with dots or slashes between its segments.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// sysctls: named, unique, and none of the network (IPC) namespace's on a pod sharing the
// host's network (IPC) namespace, where setting them would change the host.
func sysctls(spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, s := range spec.SecurityContext.Sysctls {
		p := path.Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(p, ""))
		case len(s.Name) > 253 || !sysctlName.MatchString(s.Name):
			errs = append(errs, field.Invalid(p, s.Name, fmt.Sprintf("must have at most 253 characters and match regex %s", sysctlName)))
		case seen[s.Name]:
			errs = append(errs, field.Duplicate(p, s.Name))
		}
		seen[s.Name] = true
		switch ns := sysctlNamespace(s.Name); {
		case spec.HostNetwork && ns == "net":
			errs = append(errs, field.Invalid(p, s.Name, "may not be specified when 'hostNetwork' is true"))
		case spec.HostIPC && ns == "ipc":
			errs = append(errs, field.Invalid(p, s.Name, "may not be specified when 'hostIPC' is true"))
		}
	}
	return errs
}

// sysctlNamespace tells which kernel namespace a sysctl belongs to ("net", "ipc" or "").
func sysctlNamespace(name string) string {
	name = strings.ReplaceAll(name, "/", ".")
	switch {
	case strings.HasPrefix(name, "net."):
		return "net"
	case strings.HasPrefix(name, "fs.mqueue."), strings.HasPrefix(name, "kernel.shm"), strings.HasPrefix(name, "kernel.msg"):
		return "ipc"
	case name == "kernel.sem":
		return "ipc"
	}
	return ""
}

// containerSecurityContext checks one container's securityContext.
func containerSecurityContext(sc *corev1.SecurityContext, hostUsers bool, lp lazyPath) field.ErrorList {
	if sc == nil {
		return nil
	}
	path := lp.path()
	errs := userID(sc.RunAsUser, path.Child("runAsUser"))
	errs = append(errs, groupID(sc.RunAsGroup, path.Child("runAsGroup"))...)
	if pm := sc.ProcMount; pm != nil {
		errs = append(errs, enum(string(*pm), path.Child("procMount"), string(corev1.DefaultProcMount), string(corev1.UnmaskedProcMount))...)
		if hostUsers && *pm == corev1.UnmaskedProcMount {
			errs = append(errs, field.Invalid(path.Child("procMount"), pm, "`hostUsers` must be false to use `Unmasked`"))
		}
	}
	errs = append(errs, validateSeccomp(sc.SeccompProfile, path.Child("seccompProfile"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	errs = append(errs, windowsOptions(sc.WindowsOptions, path.Child("windowsOptions"))...)
	return append(errs, validateAppArmor(sc.AppArmorProfile, path.Child("appArmorProfile"))...)
}

var (
	controlChars        = regexp.MustCompile(`[[:cntrl:]]+`)
	netBIOSDomain       = regexp.MustCompile(`^[^\\/:\*\?"<>|\.][^\\/:\*\?"<>|]{0,14}$`)
	userNameBadChars    = regexp.MustCompile(`["/\\:;|=,\+\*\?<>@\[\]]`)
	userNameDotsSpaces  = regexp.MustCompile(`^[\. ]+$`)
	maxGMSACredSpecSize = 64 * 1024
)

// windowsOptions checks the Windows settings, which kube-apiserver checks on every pod.
func windowsOptions(w *corev1.WindowsSecurityContextOptions, path *field.Path) field.ErrorList {
	if w == nil {
		return nil
	}
	var errs field.ErrorList
	if n := w.GMSACredentialSpecName; n != nil {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(*n) {
			errs = append(errs, field.Invalid(path.Child("gmsaCredentialSpecName"), n, msg))
		}
	}
	if s := w.GMSACredentialSpec; s != nil {
		if len(*s) == 0 {
			errs = append(errs, field.Invalid(path.Child("gmsaCredentialSpec"), s, "gmsaCredentialSpec cannot be an empty string"))
		} else if len(*s) > maxGMSACredSpecSize {
			errs = append(errs, field.Invalid(path.Child("gmsaCredentialSpec"), s, "gmsaCredentialSpec size must be under 64 KiB"))
		}
	}
	if u := w.RunAsUserName; u != nil {
		for _, msg := range windowsUserNameProblems(*u) {
			errs = append(errs, field.Invalid(path.Child("runAsUserName"), u, msg))
		}
	}
	return errs
}

// windowsUserNameProblems checks a Windows user name, DOMAIN\user or user.
func windowsUserNameProblems(name string) []string {
	parts := strings.Split(name, `\`)
	switch {
	case name == "":
		return []string{"runAsUserName cannot be an empty string"}
	case controlChars.MatchString(name):
		return []string{"runAsUserName cannot contain control characters"}
	case len(parts) > 2:
		return []string{"runAsUserName cannot contain more than one backslash"}
	}
	var msgs []string
	user, domain := parts[0], ""
	if len(parts) == 2 {
		domain, user = parts[0], parts[1]
		if len(domain) >= 256 {
			msgs = append(msgs, "runAsUserName's Domain length must be under 256 characters")
		}
		if !netBIOSDomain.MatchString(domain) && !isDNSSubdomainFormat(domain) {
			msgs = append(msgs, "runAsUserName's Domain doesn't match the NetBios nor the DNS format")
		}
	}
	if user == "" {
		msgs = append(msgs, "runAsUserName's User cannot be empty")
	} else if len(user) > 104 {
		msgs = append(msgs, "runAsUserName's User length must not be longer than 104 characters")
	}
	if userNameDotsSpaces.MatchString(user) {
		msgs = append(msgs, "runAsUserName's User cannot contain only periods or spaces")
	}
	if userNameBadChars.MatchString(user) {
		msgs = append(msgs, `runAsUserName's User cannot contain the following characters: "/\:;|=,+*?<>@[]`)
	}
	return msgs
}

// isDNSSubdomainFormat is a DNS subdomain's form, without its length limit.
func isDNSSubdomainFormat(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !isDNSLabelChars(part) {
			return false
		}
	}
	return true
}

// allContainers calls fn for every container of the pod, with its path.
func allContainers(spec *corev1.PodSpec, path lazyPath, fn func(c *corev1.Container, p lazyPath)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i], path.child("initContainers").index(i))
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i], path.child("containers").index(i))
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		fn(&c, path.child("ephemeralContainers").index(i))
	}
}

// hostProcessPod: a Windows pod's containers are all host processes or none is, and host
// processes share the host's network.
func hostProcessPod(spec *corev1.PodSpec, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	var podHP *bool
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil {
		podHP = sc.WindowsOptions.HostProcess
	}
	containers, hostProcesses := 0, 0
	allContainers(spec, path, func(c *corev1.Container, p lazyPath) {
		containers++
		var hp *bool
		if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil {
			hp = c.SecurityContext.WindowsOptions.HostProcess
		}
		if podHP != nil && hp != nil && *podHP != *hp {
			errs = append(errs, field.Invalid(p.child("securityContext").child("windowsOptions").child("hostProcess").path(), *hp,
				fmt.Sprintf("pod hostProcess value must be identical if both are specified, was %v", *podHP)))
		}
		if (hp != nil && *hp) || (hp == nil && podHP != nil && *podHP) {
			hostProcesses++
		}
	})
	if hostProcesses == 0 {
		return errs
	}
	if hostProcesses != containers {
		errs = append(errs, field.Invalid(path.path(), "", "If pod contains any hostProcess containers then all containers must be HostProcess containers"))
	}
	if !spec.HostNetwork {
		errs = append(errs, field.Invalid(path.child("hostNetwork").path(), false, "hostNetwork must be true if pod contains any hostProcess containers"))
	}
	return errs
}

// hostUsersPod: a pod in its own user namespace shares no other namespace with the host.
func hostUsersPod(spec *corev1.PodSpec, lp lazyPath) field.ErrorList {
	if spec.HostUsers == nil || *spec.HostUsers {
		return nil
	}
	path := lp.path()
	var errs field.ErrorList
	const why = "when `pod.Spec.HostUsers` is false"
	if spec.HostNetwork {
		errs = append(errs, field.Forbidden(path.Child("hostNetwork"), why))
	}
	// kube-apiserver names these two with capitals.
	if spec.HostPID {
		errs = append(errs, field.Forbidden(path.Child("HostPID"), why))
	}
	if spec.HostIPC {
		errs = append(errs, field.Forbidden(path.Child("HostIPC"), why))
	}
	return errs
}

// podOS checks spec.os, then what the chosen OS cannot have.
func podOS(spec *corev1.PodSpec, path lazyPath) field.ErrorList {
	if spec.OS == nil {
		return nil
	}
	switch spec.OS.Name {
	case "":
		return field.ErrorList{field.Required(path.child("os").child("name").path(), "cannot be empty")}
	case corev1.Linux:
		return linuxOnly(spec, path)
	case corev1.Windows:
		return windowsOnly(spec, path)
	}
	return field.ErrorList{field.NotSupported(path.child("os").path(), spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows})}
}

func linuxOnly(spec *corev1.PodSpec, path lazyPath) field.ErrorList {
	var errs field.ErrorList
	const why = "windows options cannot be set for a linux pod"
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil {
		errs = append(errs, field.Forbidden(path.child("securityContext").child("windowsOptions").path(), why))
	}
	allContainers(spec, path, func(c *corev1.Container, p lazyPath) {
		if sc := c.SecurityContext; sc != nil && sc.WindowsOptions != nil {
			errs = append(errs, field.Forbidden(p.child("securityContext").child("windowsOptions").path(), why))
		}
	})
	return errs
}

// windowsOnly refuses the Linux settings on a Windows pod.
func windowsOnly(spec *corev1.PodSpec, lp lazyPath) field.ErrorList {
	path := lp.path()
	var errs field.ErrorList
	forbid := func(set bool, p *field.Path) {
		if set {
			errs = append(errs, field.Forbidden(p, "cannot be set for a windows pod"))
		}
	}
	if sc := spec.SecurityContext; sc != nil {
		p := path.Child("securityContext")
		forbid(sc.AppArmorProfile != nil, p.Child("appArmorProfile"))
		forbid(sc.SELinuxOptions != nil, p.Child("seLinuxOptions"))
		forbid(sc.SeccompProfile != nil, p.Child("seccompProfile"))
		forbid(sc.FSGroup != nil, p.Child("fsGroup"))
		forbid(sc.FSGroupChangePolicy != nil, p.Child("fsGroupChangePolicy"))
		forbid(len(sc.Sysctls) > 0, p.Child("sysctls"))
		forbid(sc.RunAsUser != nil, p.Child("runAsUser"))
		forbid(sc.RunAsGroup != nil, p.Child("runAsGroup"))
		forbid(sc.SupplementalGroups != nil, p.Child("supplementalGroups"))
		forbid(sc.SupplementalGroupsPolicy != nil, p.Child("supplementalGroupsPolicy"))
		forbid(sc.SELinuxChangePolicy != nil, p.Child("seLinuxChangePolicy"))
	}
	forbid(spec.HostUsers != nil, path.Child("hostUsers"))
	forbid(spec.HostPID, path.Child("hostPID"))
	forbid(spec.HostIPC, path.Child("hostIPC"))
	forbid(spec.ShareProcessNamespace != nil, path.Child("shareProcessNamespace"))
	allContainers(spec, lp, func(c *corev1.Container, cp lazyPath) {
		sc := c.SecurityContext
		if sc == nil {
			return
		}
		p := cp.path().Child("securityContext")
		forbid(sc.AppArmorProfile != nil, p.Child("appArmorProfile"))
		forbid(sc.SELinuxOptions != nil, p.Child("seLinuxOptions"))
		forbid(sc.SeccompProfile != nil, p.Child("seccompProfile"))
		forbid(sc.Capabilities != nil, p.Child("capabilities"))
		forbid(sc.ReadOnlyRootFilesystem != nil, p.Child("readOnlyRootFilesystem"))
		forbid(sc.Privileged != nil, p.Child("privileged"))
		forbid(sc.AllowPrivilegeEscalation != nil, p.Child("allowPrivilegeEscalation"))
		forbid(sc.ProcMount != nil, p.Child("procMount"))
		forbid(sc.RunAsUser != nil, p.Child("runAsUser"))
		forbid(sc.RunAsGroup != nil, p.Child("runAsGroup"))
	})
	return errs
}
