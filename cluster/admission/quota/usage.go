package quota

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Usage is what obj, an object of gr, counts against a quota at now.
func Usage(gr schema.GroupResource, obj runtime.Object, now time.Time) corev1.ResourceList {
	out := corev1.ResourceList{CountName(gr): one()}
	if gr.Group != "" {
		return out
	}
	if n, ok := legacyCount[gr.Resource]; ok && gr.Resource != "pods" {
		out[n] = one()
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		if Counted(o, now) {
			out = Add(out, podCompute1(podRequests(o), podLimits(o)))
		}
	case *corev1.Service:
		out = Add(out, serviceUsage(o))
	case *corev1.PersistentVolumeClaim:
		out = Add(out, claimUsage(o))
	}
	return out
}

// Counted is kube's QuotaV1Pod: a pod counts as "pods" and by its compute resources
// until it has finished or is past its deletion grace period (count/pods counts every
// stored pod).
func Counted(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		end := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
		return !now.After(end)
	}
	return true
}

// podCompute1 is kube's podComputeUsageHelper: one pod with these requests and limits.
func podCompute1(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: one()}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q.DeepCopy()
			out["requests."+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			out["limits."+r] = q.DeepCopy()
		}
	}
	return out
}

// podRequests: the containers' sum, or the largest init container's when larger
// (init containers run one at a time, before the others), plus the pod's overhead.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests })
}

func podLimits(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
}

func podTotal(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		sum = Add(sum, of(&pod.Spec.Containers[i]))
	}
	for i := range pod.Spec.InitContainers {
		for n, q := range of(&pod.Spec.InitContainers[i]) {
			if cur, ok := sum[n]; !ok || q.Cmp(cur) > 0 {
				sum[n] = q.DeepCopy()
			}
		}
	}
	return Add(sum, pod.Spec.Overhead)
}

func serviceUsage(svc *corev1.Service) corev1.ResourceList {
	out := corev1.ResourceList{}
	ports := int64(0)
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		ports = int64(len(svc.Spec.Ports))
	case corev1.ServiceTypeLoadBalancer:
		out[corev1.ResourceServicesLoadBalancers] = one()
		if svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts {
			ports = int64(len(svc.Spec.Ports))
		}
	}
	out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	return out
}

func claimUsage(pvc *corev1.PersistentVolumeClaim) corev1.ResourceList {
	out := corev1.ResourceList{}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		out[corev1.ResourceRequestsStorage] = q.DeepCopy()
		if class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourceRequestsStorage))] = q.DeepCopy()
		}
	}
	return out
}

// requiredOfContainers are the hard names that make every container state its own
// request or limit (kube keeps this for compatibility: quota on cpu or memory once meant
// "must specify").
var requiredOfContainers = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true,
	corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true,
}

// Constraints is the pod evaluator's check: when a quota limits requests.cpu (say),
// each container must specify it. The error is kube's "must specify requests.cpu for: app".
func Constraints(restricted []corev1.ResourceName, obj runtime.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	missing := map[corev1.ResourceName][]string{}
	check := func(c *corev1.Container) {
		has := podCompute1(c.Resources.Requests, c.Resources.Limits)
		for _, r := range restricted {
			if _, ok := has[r]; requiredOfContainers[r] && !ok {
				missing[r] = append(missing[r], c.Name)
			}
		}
	}
	for i := range pod.Spec.Containers {
		check(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		check(&pod.Spec.InitContainers[i])
	}
	if len(missing) == 0 {
		return nil
	}
	var msgs []string
	for _, r := range Names(asList(missing)) {
		names := missing[r]
		sort.Strings(names)
		msgs = append(msgs, fmt.Sprintf("%s for: %s", r, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

func asList(m map[corev1.ResourceName][]string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for n := range m {
		out[n] = resource.Quantity{}
	}
	return out
}
