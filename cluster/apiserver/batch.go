package apiserver

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// generateJobSelector gives a new Job whose manualSelector is not true the selector and
// template labels kube-apiserver's job strategy generates from its UID, so its pods match
// this Job alone. Labels the user already set are kept; validation refuses conflicts.
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	uid := string(job.UID)
	for k, v := range map[string]string{
		"job-name":                 job.Name, // the unprefixed labels Kubernetes still sets
		batchv1.JobNameLabel:       job.Name,
		"controller-uid":           uid,
		batchv1.ControllerUidLabel: uid,
	} {
		if _, set := job.Spec.Template.Labels[k]; !set {
			job.Spec.Template.Labels[k] = v
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !set {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = uid
	}
}
