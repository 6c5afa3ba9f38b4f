// Package quota is kube-apiserver's ResourceQuota admission arithmetic, shared with the
// resourcequota controller: what one object uses (a pod counts as "pods", its cpu and
// memory requests and limits; every object counts as count/<resource>.<group>), which
// of a quota's hard limits it touches, and the refusal kube-apiserver gives when a new
// object would go past one ("exceeded quota: q, requested: pods=1, used: pods=2,
// limited: pods=2").
package quota

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CountName is the object-count resource of gr: count/pods, count/deployments.apps.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// The legacy names kube counts some core resources by besides count/<resource>.
var legacyCount = map[string]corev1.ResourceName{
	"pods":                   corev1.ResourcePods,
	"services":               corev1.ResourceServices,
	"configmaps":             corev1.ResourceConfigMaps,
	"secrets":                corev1.ResourceSecrets,
	"persistentvolumeclaims": corev1.ResourcePersistentVolumeClaims,
	"replicationcontrollers": corev1.ResourceReplicationControllers,
	"resourcequotas":         corev1.ResourceQuotas,
}

// podCompute are the names a pod's requests and limits are counted by ("cpu" and
// "memory" are the old spellings of requests.cpu and requests.memory).
var podCompute = []corev1.ResourceName{
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage,
}

// Tracked reports whether a quota's hard resource name r can be charged by objects of gr
// (kube's evaluators' MatchingResources).
func Tracked(gr schema.GroupResource, r corev1.ResourceName) bool {
	if r == CountName(gr) || (gr.Group == "" && legacyCount[gr.Resource] == r && r != "") {
		return true
	}
	if gr.Group != "" {
		return false
	}
	switch gr.Resource {
	case "pods":
		for _, n := range podCompute {
			if n == r {
				return true
			}
		}
	case "services":
		return r == corev1.ResourceServicesNodePorts || r == corev1.ResourceServicesLoadBalancers
	case "persistentvolumeclaims":
		return r == corev1.ResourceRequestsStorage || strings.HasSuffix(string(r), storageClassSuffix+string(corev1.ResourceRequestsStorage)) ||
			strings.HasSuffix(string(r), storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))
	}
	return false
}

const storageClassSuffix = ".storageclass.storage.k8s.io/"

// Matching is the part of hard that objects of gr are charged against.
func Matching(gr schema.GroupResource, hard corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for r := range hard {
		if Tracked(gr, r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Mask keeps the entries of list named in names.
func Mask(list corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, n := range names {
		if q, ok := list[n]; ok {
			out[n] = q.DeepCopy()
		}
	}
	return out
}

// Add returns a+b.
func Add(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n, q := range a {
		out[n] = q.DeepCopy()
	}
	for n, q := range b {
		sum := out[n].DeepCopy()
		sum.Add(q)
		out[n] = sum
	}
	return out
}

// Grown is what b adds to a: b-a for each name where b holds more, as kube's quota
// admission charges an update only for what it adds (a NodePort, a larger claim).
func Grown(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n, q := range b {
		d := q.DeepCopy()
		if have, ok := a[n]; ok {
			d.Sub(have)
		}
		if d.Sign() > 0 {
			out[n] = d
		}
	}
	return out
}

// Names lists a ResourceList's names, sorted.
func Names(list corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(list))
	for n := range list {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// PrettyPrint is kube's "pods=1,requests.cpu=500m".
func PrettyPrint(list corev1.ResourceList) string {
	parts := make([]string, 0, len(list))
	for _, n := range Names(list) {
		q := list[n]
		parts = append(parts, string(n)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

func prettyNames(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}

func one() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }
