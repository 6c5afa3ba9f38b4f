package validation

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// jobManagedBy checks spec.managedBy, the controller a Job is left to: a domain-prefixed
// path (example.com/name) of at most 63 characters, as kube-apiserver's Job validation.
func jobManagedBy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	m := spec.ManagedBy
	if m == nil {
		return nil
	}
	p := path.Child("managedBy")
	errs := utilvalidation.IsDomainPrefixedPath(p, *m)
	if len(*m) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	return errs
}

// jobPodReplacementPolicy: when the Job replaces a failed pod. With a pod failure policy
// only Failed makes sense (the policy needs the pod's final state).
func jobPodReplacementPolicy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	r := spec.PodReplacementPolicy
	if r == nil {
		return nil
	}
	p := path.Child("podReplacementPolicy")
	if spec.PodFailurePolicy != nil {
		return enum(string(*r), p, string(batchv1.Failed))
	}
	return enum(string(*r), p, string(batchv1.Failed), string(batchv1.TerminatingOrFailed))
}

// jobMetaAtCreate is a new Job's metadata as kube-apiserver validates it. A Job without
// labels takes its template's; when the template had none either, kube validates the Job
// unlabelled and only then generates the template's controller-uid and job-name labels,
// which the Job shows from then on (webkube copies them at once). So a Job whose every
// label is a generated one is checked without them: a name too long for a label value is
// not refused at metadata.labels (the template's copy is still checked).
func jobMetaAtCreate(job *batchv1.Job) *metav1.ObjectMeta {
	generated := map[string]string{
		"controller-uid": string(job.UID), batchv1.ControllerUidLabel: string(job.UID),
		"job-name": job.Name, batchv1.JobNameLabel: job.Name,
	}
	for k, v := range job.Labels {
		if g, ok := generated[k]; !ok || g != v {
			return &job.ObjectMeta
		}
	}
	m := job.ObjectMeta.DeepCopy()
	m.Labels = nil
	return m
}
