package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// scheduling.k8s.io/v1: PriorityClasses, which the Priority admission plugin turns into a
// pod's spec.priority. webkube's scheduler does not preempt (see the README).

var schedulingV1 = schedulingv1.SchemeGroupVersion

var schedulingResources = []*resource{
	{gvr: schedulingV1.WithResource("priorityclasses"), kind: "PriorityClass", singular: "priorityclass",
		shortNames: []string{"pc"}, bumpGeneration: true,
		newObj: func() runtime.Object { return &schedulingv1.PriorityClass{} }, newList: func() runtime.Object { return &schedulingv1.PriorityClassList{} }},
}

func init() {
	resourceTable = append(resourceTable, schedulingResources...)
	groupVersions = append(groupVersions, schedulingV1)
}

// The two classes every cluster has (kube's SystemPriorityClasses).
var systemPriorityClasses = []*schedulingv1.PriorityClass{
	{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000,
		Description: "Used for system critical pods that must not be moved from their current node."},
	{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000,
		Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
}

// bootstrapPriorityClasses creates the system classes that are missing.
func (s *Server) bootstrapPriorityClasses(ctx context.Context) error {
	r := resourceFor(schedulingV1.WithResource("priorityclasses").GroupResource())
	for _, pc := range systemPriorityClasses {
		if _, err := s.store.Get(ctx, r.key("", pc.Name)); err == nil {
			continue
		}
		if _, err := s.create(ctx, r, "", pc.DeepCopy(), false); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", pc.Name, err)
		}
	}
	return nil
}

func (s *Server) priorityClasses(ctx context.Context) ([]*schedulingv1.PriorityClass, error) {
	objs, err := s.sharedList(ctx, resourceFor(schedulingV1.WithResource("priorityclasses").GroupResource()), "")
	if err != nil {
		return nil, err
	}
	out := make([]*schedulingv1.PriorityClass, len(objs))
	for i, o := range objs {
		out[i] = o.(*schedulingv1.PriorityClass)
	}
	return out, nil
}

// admitPriority is the Priority admission plugin on a new pod: its priorityClassName
// (or the global default class, the lowest if several) gives spec.priority and
// spec.preemptionPolicy; a class that does not exist, or a priority that disagrees with
// the class, is refused with kube-apiserver's words. webkube's defaulting has already
// written priority 0 and PreemptLowerPriority into a pod that named no class, so those
// two values count as not given.
func (s *Server) admitPriority(ctx context.Context, pod *corev1.Pod) error {
	classes, err := s.priorityClasses(ctx)
	if err != nil {
		return err
	}
	var class *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		for _, pc := range classes {
			if pc.Name == name {
				class = pc
			}
		}
		if class == nil { // perhaps made a moment ago, not yet in the watch cache
			r := resourceFor(schedulingV1.WithResource("priorityclasses").GroupResource())
			if obj, _, err := s.getObject(ctx, r, "", name); err == nil {
				class = obj.(*schedulingv1.PriorityClass)
			}
		}
		if class == nil {
			return apierrors.NewForbidden(coreGR("pods"), pod.Name, fmt.Errorf("no PriorityClass with name %v was found", name))
		}
	} else {
		for _, pc := range classes {
			if pc.GlobalDefault && (class == nil || pc.Value < class.Value) {
				class = pc
			}
		}
		if class != nil {
			pod.Spec.PriorityClassName = class.Name
		}
	}
	priority, policy := int32(0), corev1.PreemptLowerPriority
	if class != nil {
		priority = class.Value
		if class.PreemptionPolicy != nil {
			policy = *class.PreemptionPolicy
		}
	}
	if p := pod.Spec.Priority; p != nil && *p != priority && *p != 0 {
		return apierrors.NewForbidden(coreGR("pods"), pod.Name, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *p, priority))
	}
	if p := pod.Spec.PreemptionPolicy; p != nil && *p != policy && *p != corev1.PreemptLowerPriority {
		return apierrors.NewForbidden(coreGR("pods"), pod.Name, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *p, policy))
	}
	pod.Spec.Priority, pod.Spec.PreemptionPolicy = &priority, &policy
	return nil
}

// admitPriorityClass: only one class may be the global default.
func (s *Server) admitPriorityClass(ctx context.Context, pc *schedulingv1.PriorityClass) error {
	if !pc.GlobalDefault {
		return nil
	}
	classes, err := s.priorityClasses(ctx)
	if err != nil {
		return err
	}
	for _, other := range classes {
		if other.GlobalDefault && other.Name != pc.Name {
			return apierrors.NewForbidden(schedulingV1.WithResource("priorityclasses").GroupResource(), pc.Name,
				fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", other.Name))
		}
	}
	return nil
}
