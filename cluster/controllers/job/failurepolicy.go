package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

const reasonPodFailurePolicy = "PodFailurePolicy"

// matchFailurePolicy applies the Job's podFailurePolicy to a failed pod as Kubernetes'
// job controller does: the first rule that matches decides (FailJob, Ignore, Count), with
// the message a FailJob puts on the Job's condition. No rule, or no policy, counts.
func matchFailurePolicy(job *batchv1.Job, p *corev1.Pod) (batchv1.PodFailurePolicyAction, string) {
	policy := job.Spec.PodFailurePolicy
	if policy == nil || p.Status.Phase != corev1.PodFailed {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	for i, rule := range policy.Rules {
		if req := rule.OnExitCodes; req != nil {
			if cs := exitCodeMatch(p, req); cs != nil {
				return rule.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					cs.Name, p.Namespace, p.Name, cs.State.Terminated.ExitCode, rule.Action, i)
			}
		}
		for _, pat := range rule.OnPodConditions {
			status := pat.Status
			if status == "" {
				status = corev1.ConditionTrue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == pat.Type && cond.Status == status {
					return rule.Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
						p.Namespace, p.Name, cond.Type, rule.Action, i)
				}
			}
		}
	}
	return batchv1.PodFailurePolicyActionCount, ""
}

// exitCodeMatch is the first terminated container (init containers first) with a
// non-zero exit code the requirement names.
func exitCodeMatch(p *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			cs := &list[i]
			term := cs.State.Terminated
			if term == nil || term.ExitCode == 0 || req.ContainerName != nil && *req.ContainerName != cs.Name {
				continue
			}
			in := slices.Contains(req.Values, term.ExitCode)
			if in == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
				return cs
			}
		}
	}
	return nil
}
