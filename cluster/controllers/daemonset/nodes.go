package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/scheduler"
	"webkube/cluster/stepper"
)

// reason is why the controller acts: the English for logs, and the catalogue key the
// dashboard says it with in each language.
type reason struct {
	en  string
	key stepper.Text
}

// daemonTolerations are the tolerations Kubernetes gives every daemon pod, so a daemon
// runs on cordoned nodes, under node pressure, and stays while its node is unreachable.
func daemonTolerations(hostNetwork bool) []corev1.Toleration {
	ts := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		ts = append(ts, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return ts
}

// withTolerations adds the daemon tolerations the pod spec does not have yet.
func withTolerations(spec *corev1.PodSpec) {
	for _, t := range daemonTolerations(spec.HostNetwork) {
		have := false
		for _, h := range spec.Tolerations {
			if h.MatchToleration(&t) {
				have = true
			}
		}
		if !have {
			spec.Tolerations = append(spec.Tolerations, t)
		}
	}
}

// nodeTaints are node's taints plus the ones webkube's missing node lifecycle controller
// would have set: unschedulable for a cordoned node, not-ready for a node not Ready.
func nodeTaints(node *corev1.Node) []corev1.Taint {
	ts := append([]corev1.Taint{}, node.Spec.Taints...)
	if node.Spec.Unschedulable {
		ts = append(ts, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	if !scheduler.NodeReady(node) {
		ts = append(ts, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	}
	return ts
}

func nodeReady(node *corev1.Node) bool { return scheduler.NodeReady(node) }

// placement says whether ds should run a pod on node (every NoSchedule and NoExecute taint
// tolerated, its node selector and affinity matching) and whether a pod already there may
// stay (only NoExecute taints evict), as kube's NodeShouldRunDaemonPod; why is the first
// reason it should not run.
func placement(ds *appsv1.DaemonSet, node *corev1.Node) (shouldRun, shouldStay bool, why reason) {
	spec := ds.Spec.Template.Spec.DeepCopy()
	if spec.NodeName != "" && spec.NodeName != node.Name {
		return false, false, reason{"the template names node " + spec.NodeName, stepper.Say("sets.why_ds_nodename", spec.NodeName)}
	}
	withTolerations(spec)
	pod := &corev1.Pod{Spec: *spec}
	if !scheduler.MatchesNodeAffinity(pod, node) {
		return false, false, reason{"its nodeSelector or node affinity does not match the node's labels", stepper.Say("sets.why_ds_selector")}
	}
	shouldRun, shouldStay = true, true
	for _, t := range nodeTaints(node) {
		if t.Effect == corev1.TaintEffectPreferNoSchedule || tolerated(spec.Tolerations, &t) {
			continue
		}
		if shouldRun {
			why = reason{"the node has the taint " + t.ToString() + ", not tolerated", stepper.Say("sets.why_ds_taint", t.ToString())}
		}
		shouldRun = false
		if t.Effect == corev1.TaintEffectNoExecute {
			shouldStay = false
		}
	}
	return shouldRun, shouldStay, why
}

func tolerated(ts []corev1.Toleration, t *corev1.Taint) bool {
	for i := range ts {
		if ts[i].ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// nodeOf is the node a daemon pod is on, or is pinned to by its node affinity.
func nodeOf(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// pinTo replaces the required node affinity with one naming node, as kube's
// ReplaceDaemonSetPodNodeNameNodeAffinity: the scheduler then binds the pod there.
func pinTo(spec *corev1.PodSpec, node string) {
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
}
