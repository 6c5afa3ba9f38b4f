package kubelet

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
)

// volumeFiles computes the files of the pod's configMap, secret, downwardAPI and projected
// volumes (by volume name): ConfigMap and Secret keys (already fetched by configData), pod
// fields and container resources, and service account tokens bound to the pod.
func (k *Kubelet) volumeFiles(ctx context.Context, pod *corev1.Pod, st *podState,
	cms map[string]map[string]string, secrets map[string]map[string][]byte) (map[string][]containers.File, error) {
	out := map[string][]containers.File{}
	for _, v := range pod.Spec.Volumes {
		var files []containers.File
		var err error
		switch {
		case v.ConfigMap != nil:
			data, found := cmBytes(cms, v.ConfigMap.Name)
			files, err = keyFiles("configmap", v.ConfigMap.Name, found, v.ConfigMap.Optional, data, v.ConfigMap.Items, v.ConfigMap.DefaultMode)
		case v.Secret != nil:
			data, found := secrets[v.Secret.SecretName]
			files, err = keyFiles("secret", v.Secret.SecretName, found, v.Secret.Optional, data, v.Secret.Items, v.Secret.DefaultMode)
		case v.DownwardAPI != nil:
			files, err = downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		case v.Projected != nil:
			files, err = k.projectedFiles(ctx, pod, st, v.Projected, cms, secrets)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		out[v.Name] = files
	}
	return out, nil
}

func modeOr(m, def *int32) int32 {
	if m != nil {
		return *m
	}
	if def != nil {
		return *def
	}
	return 0o644
}

func (k *Kubelet) projectedFiles(ctx context.Context, pod *corev1.Pod, st *podState, p *corev1.ProjectedVolumeSource,
	cms map[string]map[string]string, secrets map[string]map[string][]byte) ([]containers.File, error) {
	var files []containers.File
	for _, src := range p.Sources {
		var more []containers.File
		var err error
		switch {
		case src.ConfigMap != nil:
			data, found := cmBytes(cms, src.ConfigMap.Name)
			more, err = keyFiles("configmap", src.ConfigMap.Name, found, src.ConfigMap.Optional, data, src.ConfigMap.Items, p.DefaultMode)
		case src.Secret != nil:
			data, found := secrets[src.Secret.Name]
			more, err = keyFiles("secret", src.Secret.Name, found, src.Secret.Optional, data, src.Secret.Items, p.DefaultMode)
		case src.DownwardAPI != nil:
			more, err = downwardFiles(pod, src.DownwardAPI.Items, p.DefaultMode)
		case src.ServiceAccountToken != nil:
			var tok []byte
			tok, err = k.podToken(ctx, pod, st, src.ServiceAccountToken)
			more = []containers.File{{Path: src.ServiceAccountToken.Path, Data: tok, Mode: modeOr(nil, p.DefaultMode)}}
		}
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	return files, nil
}

// cmBytes is a fetched ConfigMap's data as bytes, and whether it was found.
func cmBytes(cms map[string]map[string]string, name string) (map[string][]byte, bool) {
	cm, found := cms[name]
	data := make(map[string][]byte, len(cm))
	for key, val := range cm {
		data[key] = []byte(val)
	}
	return data, found
}

// keyFiles are a ConfigMap's or Secret's keys as files, all or the items chosen.
func keyFiles(kind, name string, found bool, optional *bool, data map[string][]byte, items []corev1.KeyToPath, def *int32) ([]containers.File, error) {
	if !found {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("%s %q not found", kind, name)
	}
	var files []containers.File
	if len(items) == 0 {
		for key, val := range data {
			files = append(files, containers.File{Path: key, Data: val, Mode: modeOr(nil, def)})
		}
		return files, nil
	}
	for _, it := range items {
		val, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			if kind == "secret" {
				return nil, fmt.Errorf("references non-existent secret key: %s", it.Key)
			}
			return nil, fmt.Errorf("configmap references non-existent config key: %s", it.Key)
		}
		files = append(files, containers.File{Path: it.Path, Data: val, Mode: modeOr(it.Mode, def)})
	}
	return files, nil
}

// downwardFiles writes pod fields and container resources as the kubelet's downwardAPI
// volume plugin does (labels and annotations as key="value" lines, sorted).
func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def *int32) ([]containers.File, error) {
	var files []containers.File
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = podField(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = containerResource(pod, it.ResourceFieldRef)
		default:
			err = fmt.Errorf("item %q has neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, containers.File{Path: it.Path, Data: []byte(val), Mode: modeOr(it.Mode, def)})
	}
	return files, nil
}

func podField(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if rest, ok := strings.CutPrefix(path, prefix+"['"); ok {
			return m[strings.TrimSuffix(rest, "']")], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q in a volume", path)
}

// formatMap is the kubelet's fieldpath.FormatMap.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// containerResource is a container's request or limit in units of the divisor, rounded up;
// an unset limit is the node's allocatable, as the kubelet reports it.
func containerResource(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == ref.ContainerName {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %q not found in the pod", ref.ContainerName)
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok && kind == "limits" {
		switch corev1.ResourceName(name) {
		case corev1.ResourceCPU:
			q = *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI)
		case corev1.ResourceMemory:
			q = *resource.NewQuantity(hostMemory(), resource.BinarySI)
		}
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if corev1.ResourceName(name) == corev1.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(div.Value()))), 10), nil
}

// podToken is a service account token bound to the pod, asked for once per pod and
// projection (the API server makes the kubelet's 3607 s tokens last a year).
func (k *Kubelet) podToken(ctx context.Context, pod *corev1.Pod, st *podState, p *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	key := fmt.Sprintf("%s|%d", p.Audience, ptrValue(p.ExpirationSeconds))
	if tok, ok := st.tokens[key]; ok {
		return tok, nil
	}
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: p.ExpirationSeconds,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}
	if p.Audience != "" {
		spec.Audiences = []string{p.Audience}
	}
	tr, err := k.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName,
		&authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to fetch token: %w", err)
	}
	if st.tokens == nil {
		st.tokens = map[string][]byte{}
	}
	st.tokens[key] = []byte(tr.Status.Token)
	return st.tokens[key], nil
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
