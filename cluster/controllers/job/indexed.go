package job

import (
	"fmt"
	"sort"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"webkube/internal/jobindex"
)

// Indexed Jobs (completionMode: Indexed), as Kubernetes': each pod gets an index in
// [0, completions), carried by the batch.kubernetes.io/job-completion-index annotation and
// label and the JOB_COMPLETION_INDEX variable, and the hostname <job>-<index>. The Job
// is complete once every index has a succeeded pod; status.completedIndexes lists them
// ("0-2,4"), and is itself the count: a succeeded pod is counted by its index, not its UID.

const completionIndexEnv = "JOB_COMPLETION_INDEX"

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// completionIndex is the pod's index, if it has a valid one below the Job's completions.
func completionIndex(p *corev1.Pod, job *batchv1.Job) (int, bool) {
	ix, ok := jobindex.Of(p)
	if !ok || job.Spec.Completions == nil || ix >= int(*job.Spec.Completions) {
		return 0, false
	}
	return ix, true
}

// pendingIndexes are the n lowest indexes neither completed, failed (backoffLimitPerIndex)
// nor held by an active pod.
func pendingIndexes(job *batchv1.Job, active []*corev1.Pod, n int) []int {
	taken := jobindex.Parse(job.Status.CompletedIndexes).Union(failedIndexesOf(job))
	for _, p := range active {
		if ix, ok := completionIndex(p, job); ok {
			taken.Insert(ix)
		}
	}
	var out []int
	for i := 0; i < int(*job.Spec.Completions) && len(out) < n; i++ {
		if !taken.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

// surplusIndexed are the active pods an Indexed Job does not want: without a valid index,
// with an index already completed, or a second pod for one index (the newer goes).
func surplusIndexed(job *batchv1.Job, active []*corev1.Pod) []*corev1.Pod {
	done := jobindex.Parse(job.Status.CompletedIndexes)
	sorted := append([]*corev1.Pod(nil), active...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return sorted[i].CreationTimestamp.Before(&sorted[j].CreationTimestamp)
	})
	seen := sets.New[int]()
	var out []*corev1.Pod
	for _, p := range sorted {
		ix, ok := completionIndex(p, job)
		if !ok || done.Has(ix) || seen.Has(ix) {
			out = append(out, p)
			continue
		}
		seen.Insert(ix)
	}
	return out
}

// withIndex gives a pod of an Indexed Job its index: annotation, label, hostname and the
// JOB_COMPLETION_INDEX variable in every container (one it sets itself is kept).
func withIndex(pod *corev1.Pod, job *batchv1.Job, ix int) {
	v := strconv.Itoa(ix)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = v
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = v
	pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, ix)
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
	}
	env := corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !hasEnv(cs[i].Env, completionIndexEnv) {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}
