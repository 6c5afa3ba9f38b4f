package job_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/eventually"
)

// podAt is the Job's running pod of completion index ix.
func (f *fixture) podAt(j *batchv1.Job, ix string) corev1.Pod {
	f.t.Helper()
	var pod corev1.Pod
	eventually.That(f.t, 10*time.Second, "a running pod of index "+ix, func() (bool, string) {
		var got []string
		for _, p := range f.pods(j, true) {
			got = append(got, p.Annotations[batchv1.JobCompletionIndexAnnotation])
			if p.Annotations[batchv1.JobCompletionIndexAnnotation] == ix {
				pod = p
				return true, ""
			}
		}
		return false, fmt.Sprint("running indexes ", got)
	})
	return pod
}

// An Indexed Job runs one pod per index (annotation, label, hostname <job>-<index>,
// JOB_COMPLETION_INDEX), lowest indexes first within parallelism; a failed index is run
// again after the back-off; completedIndexes lists the succeeded ones and the Job is
// Complete once every index is.
func TestIndexedJob(t *testing.T) {
	f := start(t)
	j := f.create(newJob("idx", func(s *batchv1.JobSpec) {
		s.Completions, s.Parallelism = ptr(int32(3)), ptr(int32(2))
		s.CompletionMode = ptr(batchv1.IndexedCompletion)
	}))
	f.waitPods(j, 2)
	p0, p1 := f.podAt(j, "0"), f.podAt(j, "1")
	env := p0.Spec.Containers[0].Env
	if p0.Labels[batchv1.JobCompletionIndexAnnotation] != "0" || p0.Spec.Hostname != "idx-0" || !strings.HasPrefix(p0.Name, "idx-0-") ||
		len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" ||
		env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
		t.Fatalf("pod of index 0: name %s labels %v hostname %q env %+v", p0.Name, p0.Labels, p0.Spec.Hostname, env)
	}
	f.end(p1, 0)
	f.waitJob("idx", "index 1 completed", func(j *batchv1.Job) bool {
		return j.Status.CompletedIndexes == "1" && j.Status.Succeeded == 1
	})
	p2 := f.podAt(j, "2")
	f.end(p0, 1)
	f.waitJob("idx", "failed 1", func(j *batchv1.Job) bool { return j.Status.Failed == 1 })
	f.clock.Step(10 * time.Second) // the back-off
	p0 = f.podAt(j, "0")
	f.end(p2, 0)
	// A pair is written as two indexes, as kube-controller-manager does ("1,2", not "1-2").
	f.waitJob("idx", "indexes 1,2 completed", func(j *batchv1.Job) bool { return j.Status.CompletedIndexes == "1,2" })
	f.end(p0, 0)
	done := f.waitJob("idx", "Complete", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobComplete) != nil })
	if done.Status.CompletedIndexes != "0-2" || done.Status.Succeeded != 3 || done.Status.Failed != 1 {
		t.Fatalf("finished status: %+v", done.Status)
	}
	if n := len(f.pods(j, false)); n != 4 {
		t.Fatalf("%d pods, want 4 (three indexes, one run twice)", n)
	}
}

// failPod plays the kubelet: the pod fails with code, with the pod conditions given.
func (f *fixture) failPod(p corev1.Pod, code int32, conds ...corev1.PodConditionType) {
	f.t.Helper()
	for _, c := range conds {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
	}
	if _, err := f.client.CoreV1().Pods("default").UpdateStatus(f.ctx, &p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.end(*f.fresh(p.Name), code)
}

func (f *fixture) fresh(name string) *corev1.Pod {
	f.t.Helper()
	p, err := f.client.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// podFailurePolicy: a pod failed by a disruption (DisruptionTarget) is ignored — not
// counted, replaced without back-off; an exit code the Count rule names counts; exit code
// 42 fails the Job at once with kube's reason and message.
func TestPodFailurePolicy(t *testing.T) {
	f := start(t)
	j := f.create(newJob("pfp", func(s *batchv1.JobSpec) {
		s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
			{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{42}}},
		}}
	}))
	if s := j.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status; s != corev1.ConditionTrue || *j.Spec.PodReplacementPolicy != batchv1.Failed {
		t.Fatalf("not defaulted: condition status %q, podReplacementPolicy %s", s, *j.Spec.PodReplacementPolicy)
	}
	first := f.waitPods(j, 1)[0]
	f.failPod(first, 137, corev1.DisruptionTarget)
	second := f.waitPods(j, 1)[0] // at once: an ignored failure has no back-off
	if second.Name == first.Name {
		t.Fatalf("no replacement for the ignored failure")
	}
	eventually.That(t, 10*time.Second, "the ignored pod's finalizer removed", func() (bool, string) {
		p := f.fresh(first.Name)
		return len(p.Finalizers) == 0, fmt.Sprint(p.Finalizers)
	})
	if got := f.job("pfp").Status.Failed; got != 0 {
		for _, p := range f.pods(j, false) {
			t.Logf("pod %s phase %s deleted %v finalizers %v created %v", p.Name, p.Status.Phase, p.DeletionTimestamp, p.Finalizers, p.CreationTimestamp)
		}
		t.Fatalf("an ignored failure was counted: failed %d", got)
	}
	f.failPod(second, 1)
	f.waitJob("pfp", "failed 1", func(j *batchv1.Job) bool { return j.Status.Failed == 1 })
	f.clock.Step(10 * time.Second)
	third := f.waitPods(j, 1)[0]
	f.failPod(third, 42)
	failed := f.waitJob("pfp", "Failed", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobFailed) != nil })
	c := hasCond(failed, batchv1.JobFailed)
	want := fmt.Sprintf("Container main for pod default/%s failed with exit code 42 matching FailJob rule at index 1", third.Name)
	if c.Reason != "PodFailurePolicy" || c.Message != want || failed.Status.Failed != 2 || hasCond(failed, batchv1.JobFailureTarget) == nil {
		t.Fatalf("failed Job: %+v\nwant reason PodFailurePolicy, message %q", failed.Status, want)
	}
}

// Indexed and podFailurePolicy specs are validated as kube-apiserver does.
func TestIndexedAndFailurePolicyValidation(t *testing.T) {
	f := start(t)
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.JobSpec)
		want   []string
	}{
		{"IndexedWithoutCompletions", func(s *batchv1.JobSpec) {
			s.CompletionMode, s.Parallelism = ptr(batchv1.IndexedCompletion), ptr(int32(2))
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"UnknownMode", func(s *batchv1.JobSpec) { s.CompletionMode = ptr(batchv1.CompletionMode("Sorted")) },
			[]string{`spec.completionMode: Unsupported value: "Sorted": supported values: "NonIndexed", "Indexed"`}},
		{"OnFailure", func(s *batchv1.JobSpec) {
			s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}}}
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"BadRules", func(s *batchv1.JobSpec) {
			s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr("nope"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{5, 0, 5}}},
				{Action: batchv1.PodFailurePolicyActionCount},
				{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1}}},
			}}
		}, []string{
			`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template`,
			`spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator`,
			`spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5`,
			`spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{5, 0, 5}: must be ordered`,
			`spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required`,
			`spec.podFailurePolicy.rules[2].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.BatchV1().Jobs("default").Create(f.ctx, newJob("bad", tc.mutate), metav1.CreateOptions{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
