package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"webkube/internal/atomicwriter"
)

// ErrContainerConfig marks Create errors in what the pod asks for (a missing configMap,
// secret or key, a bad volume) rather than in running it: the kubelet reports them as
// CreateContainerConfigError and retries once the configuration may have changed.
var ErrContainerConfig = errors.New("CreateContainerConfigError")

type configError struct{ err error }

func (e configError) Error() string   { return e.err.Error() }
func (e configError) Unwrap() []error { return []error{ErrContainerConfig, e.err} }

// Command is the process Kubernetes runs for a container: command replaces the image's
// entrypoint (and drops its cmd); args alone replace the image's cmd.
func Command(c *corev1.Container, entrypoint, cmd []string) []string {
	switch {
	case len(c.Command) > 0:
		return append(append([]string{}, c.Command...), c.Args...)
	case len(c.Args) > 0:
		return append(append([]string{}, entrypoint...), c.Args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

// Expand replaces $(NAME) references with values from lookup, as Kubernetes does in env
// values, command and args: $$ escapes a $, unknown references stay as written.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// Env resolves a container's environment in Kubernetes order: envFrom first, then env
// entries, each able to refer to the ones before it with $(NAME).
func Env(opts *CreateOptions) ([]string, error) {
	c := opts.Container
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	for _, e := range opts.ExtraEnv {
		set(e.Name, e.Value)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		var optional bool
		switch {
		case from.ConfigMapRef != nil:
			optional = from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
			cm, ok := opts.ConfigMaps[from.ConfigMapRef.Name]
			if !ok && !optional {
				return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
			}
			data = cm
		case from.SecretRef != nil:
			optional = from.SecretRef.Optional != nil && *from.SecretRef.Optional
			s, ok := opts.Secrets[from.SecretRef.Name]
			if !ok && !optional {
				return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, lookup))
			continue
		}
		v, err := valueFrom(opts, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func valueFrom(opts *CreateOptions, src *corev1.EnvVarSource) (string, error) {
	pod := opts.Pod
	switch {
	case src.FieldRef != nil:
		p := src.FieldRef.FieldPath
		switch p {
		case "metadata.name":
			return pod.Name, nil
		case "metadata.namespace":
			return pod.Namespace, nil
		case "metadata.uid":
			return string(pod.UID), nil
		case "spec.nodeName":
			return pod.Spec.NodeName, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case "status.podIP", "status.podIPs":
			return opts.Network.IP, nil
		case "status.hostIP", "status.hostIPs":
			return pod.Status.HostIP, nil
		}
		for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
			if rest, ok := strings.CutPrefix(p, prefix+"['"); ok {
				return m[strings.TrimSuffix(rest, "']")], nil
			}
		}
		return "", fmt.Errorf("unsupported fieldRef %q", p)
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		optional := r.Optional != nil && *r.Optional
		v, ok := opts.ConfigMaps[r.Name][r.Key]
		if !ok && !optional {
			return "", fmt.Errorf("key %q of configmap %q not found", r.Key, r.Name)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		optional := r.Optional != nil && *r.Optional
		v, ok := opts.Secrets[r.Name][r.Key]
		if !ok && !optional {
			return "", fmt.Errorf("key %q of secret %q not found", r.Key, r.Name)
		}
		return string(v), nil
	case src.ResourceFieldRef != nil:
		q, ok := opts.Container.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(src.ResourceFieldRef.Resource, "limits."))]
		if strings.HasPrefix(src.ResourceFieldRef.Resource, "requests.") {
			q, ok = opts.Container.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(src.ResourceFieldRef.Resource, "requests."))]
		}
		if !ok {
			return "0", nil
		}
		if strings.HasSuffix(src.ResourceFieldRef.Resource, "cpu") {
			return strconv.FormatInt((q.MilliValue()+999)/1000, 10), nil
		}
		return strconv.FormatInt(q.Value(), 10), nil
	}
	return "", errors.New("empty valueFrom")
}

// volumeMounts prepares the host side of each of the container's volume mounts (creating
// emptyDir directories, writing configMap and secret files) and returns the bind mounts.
func (r *Runtime) volumeMounts(opts *CreateOptions) ([]specs.Mount, error) {
	pod, c := opts.Pod, opts.Container
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	volDir := filepath.Join(r.podDir(string(pod.UID)), "volumes")
	var mounts []specs.Mount
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q not found in pod", vm.Name)
		}
		src, err := volumeSource(opts, volDir, v, r.now())
		if err != nil {
			return nil, err
		}
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly {
			vm.ReadOnly = true
		}
		if fsg := fsGroupOf(pod); fsg != nil && v.HostPath == nil && (v.PersistentVolumeClaim == nil || opts.OwnedClaims[v.Name]) {
			writable := v.EmptyDir != nil || v.PersistentVolumeClaim != nil
			if err := applyFSGroup(src, *fsg, writable); err != nil {
				return nil, fmt.Errorf("volume %q: fsGroup: %w", v.Name, err)
			}
		}
		if src, err = withSubPath(src, vm); err != nil {
			return nil, err
		}
		mode := "rw"
		if vm.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, specs.Mount{Destination: vm.MountPath, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", mode}})
	}
	return mounts, nil
}

// volumeSource prepares volume v's directory (or file) on the host and returns its path.
func volumeSource(opts *CreateOptions, volDir string, v *corev1.Volume, now time.Time) (string, error) {
	switch {
	case v.EmptyDir != nil:
		src := filepath.Join(volDir, "empty-dir", v.Name)
		if err := os.MkdirAll(src, 0o777); err != nil {
			return "", err
		}
		// MkdirAll honours the umask; every container user must be able to write.
		return src, os.Chmod(src, 0o777)
	case v.HostPath != nil:
		return hostPathSource(v.HostPath)
	case v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil:
		src := filepath.Join(volDir, filesDir(v), v.Name)
		if _, err := atomicwriter.Write(src, opts.VolumeFiles[v.Name], now); err != nil {
			return "", fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return src, nil
	case v.PersistentVolumeClaim != nil:
		src := opts.ClaimDirs[v.Name]
		if src == "" {
			return "", fmt.Errorf("volume %q: claim %q is not mounted", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
		return src, nil
	}
	return "", fmt.Errorf("volume %q: only emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim volumes are supported", v.Name)
}

// filesDir is where, under the pod's volumes, a volume of files the kubelet computes lives.
func filesDir(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return "configmap"
	case v.Secret != nil:
		return "secret"
	case v.DownwardAPI != nil || v.Projected != nil:
		return "projected"
	}
	return ""
}

// RefreshVolumes writes the pod's ConfigMap, Secret, downwardAPI and projected volumes
// again with files (by volume name), as the kubelet's volume manager remounts them when
// a pod's labels or a ConfigMap change. Only volumes a container already mounts are
// written (the others are written when one is created); each change is one ..data swap,
// so a running container reads the old files or the new ones. It returns the volumes
// that changed.
func (r *Runtime) RefreshVolumes(pod *corev1.Pod, files map[string][]File) ([]string, error) {
	volDir := filepath.Join(r.podDir(string(pod.UID)), "volumes")
	var changed []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		fs, ok := files[v.Name]
		if !ok || filesDir(v) == "" {
			continue
		}
		src := filepath.Join(volDir, filesDir(v), v.Name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		did, err := atomicwriter.Write(src, fs, r.now())
		if err != nil {
			return changed, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		if !did {
			continue
		}
		if fsg := fsGroupOf(pod); fsg != nil {
			if err := applyFSGroup(src, *fsg, false); err != nil {
				return changed, fmt.Errorf("volume %q: fsGroup: %w", v.Name, err)
			}
		}
		changed = append(changed, v.Name)
	}
	return changed, nil
}

// hostPathSource creates the path when its type asks for it (DirectoryOrCreate,
// FileOrCreate) and checks that it exists.
func hostPathSource(hp *corev1.HostPathVolumeSource) (string, error) {
	src := hp.Path
	if t := hp.Type; t != nil {
		switch *t {
		case corev1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(src, 0o755); err != nil {
				return "", err
			}
		case corev1.HostPathFileOrCreate:
			f, err := os.OpenFile(src, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return "", err
			}
			f.Close()
		}
	}
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("hostPath %s: %w", src, err)
	}
	return src, nil
}

// withSubPath returns the mount's subPath inside src, created if missing; a subPath that
// could escape the volume is refused.
func withSubPath(src string, vm corev1.VolumeMount) (string, error) {
	if vm.SubPath == "" {
		return src, nil
	}
	if strings.Contains(vm.SubPath, "..") || filepath.IsAbs(vm.SubPath) {
		return "", fmt.Errorf("volumeMount %q: bad subPath %q", vm.Name, vm.SubPath)
	}
	src = filepath.Join(src, vm.SubPath)
	if _, err := os.Stat(src); os.IsNotExist(err) {
		if err := os.MkdirAll(src, 0o777); err != nil {
			return "", err
		}
	}
	return src, nil
}

func fsGroupOf(pod *corev1.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}

// specOpts builds the OCI spec of one container of a pod.
func (r *Runtime) specOpts(ctx context.Context, opts *CreateOptions) ([]oci.SpecOpts, error) {
	c := opts.Container
	imgSpec, err := opts.Image.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	env, err := Env(opts)
	if err != nil {
		return nil, configError{err}
	}
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := envMap[k]; return v, ok }
	args := Command(c, imgSpec.Config.Entrypoint, imgSpec.Config.Cmd)
	if len(c.Command) > 0 || len(c.Args) > 0 {
		for i := range args {
			args[i] = Expand(args[i], lookup)
		}
	}
	if len(args) == 0 {
		return nil, errors.New("no command specified")
	}

	mounts, err := r.volumeMounts(opts)
	if err != nil {
		return nil, configError{err}
	}
	nw := opts.Network
	taken := map[string]bool{}
	for _, m := range mounts {
		taken[m.Destination] = true
	}
	for _, f := range []struct{ dst, src string }{
		{"/etc/hosts", nw.HostsPath}, {"/etc/resolv.conf", nw.ResolvConfPath}, {"/etc/hostname", nw.HostnamePath},
	} {
		if f.src != "" && !taken[f.dst] {
			mounts = append(mounts, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: []string{"rbind", "rprivate", "rw"}})
		}
	}

	so := []oci.SpecOpts{
		oci.WithImageConfig(opts.Image),
		oci.WithProcessArgs(args...),
		oci.WithEnv(env),
		oci.WithMounts(mounts),
		oci.WithAnnotations(map[string]string{
			// One shim per pod instead of one per container.
			"io.containerd.runc.v2.group": string(opts.Pod.UID),
		}),
	}
	if c.WorkingDir != "" {
		so = append(so, oci.WithProcessCwd(c.WorkingDir))
	}
	if nw.NetnsPath != "" {
		so = append(so, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nw.NetnsPath}))
	}
	pidOpt, err := r.pidNamespace(ctx, opts)
	if err != nil {
		return nil, err
	}
	if pidOpt != nil {
		so = append(so, pidOpt)
	}
	if nw.Hostname != "" {
		so = append(so, oci.WithHostname(nw.Hostname))
	}
	so = append(so, userOpts(opts.Pod, c)...)
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			so = append(so, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
		}
	}
	if c.TTY {
		so = append(so, oci.WithTTY)
	}
	if mem, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && mem.Value() > 0 {
		so = append(so, oci.WithMemoryLimit(uint64(mem.Value())))
	}
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && cpu.MilliValue() > 0 {
		const period = 100000
		so = append(so, oci.WithCPUCFS(cpu.MilliValue()*period/1000, period))
	}
	req, ok := c.Resources.Requests[corev1.ResourceCPU]
	if !ok {
		req, ok = c.Resources.Limits[corev1.ResourceCPU]
	}
	if ok && req.MilliValue() > 0 {
		shares := uint64(req.MilliValue() * 1024 / 1000)
		if shares < 2 {
			shares = 2
		}
		so = append(so, oci.WithCPUShares(shares))
	}
	return so, nil
}

// pidNamespace is the process namespace of a container: the host's with hostPID (kubectl
// debug node/), the target's for an ephemeral container with a targetContainerName
// (kubectl debug --target), else its own (nil).
func (r *Runtime) pidNamespace(ctx context.Context, opts *CreateOptions) (oci.SpecOpts, error) {
	if opts.Pod.Spec.HostPID {
		return oci.WithHostNamespace(specs.PIDNamespace), nil
	}
	target := ""
	for _, ec := range opts.Pod.Spec.EphemeralContainers {
		if ec.Name == opts.Container.Name {
			target = ec.TargetContainerName
		}
	}
	if target == "" {
		return nil, nil
	}
	pid, err := r.runningPid(ctx, string(opts.Pod.UID), target)
	if err != nil {
		return nil, configError{fmt.Errorf("target container %q: %w", target, err)}
	}
	return oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", pid)}), nil
}

// runningPid is the host pid of the running instance of a pod's container.
func (r *Runtime) runningPid(ctx context.Context, podUID, name string) (uint32, error) {
	list, err := r.List(ctx, podUID)
	if err != nil {
		return 0, err
	}
	for _, st := range list {
		if st.Name != name || st.State != StateRunning {
			continue
		}
		c, err := r.client.LoadContainer(ctx, st.ID)
		if err != nil {
			return 0, err
		}
		t, err := c.Task(ctx, nil)
		if err != nil {
			return 0, err
		}
		return t.Pid(), nil
	}
	return 0, errors.New("not running")
}
