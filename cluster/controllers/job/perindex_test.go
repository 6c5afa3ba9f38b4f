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

func indexed(completions, parallelism int32) func(*batchv1.JobSpec) {
	return func(s *batchv1.JobSpec) {
		s.Completions, s.Parallelism = ptr(completions), ptr(parallelism)
		s.CompletionMode = ptr(batchv1.IndexedCompletion)
	}
}

// A successPolicy rule met ends the Job early: SuccessCriteriaMet with kube's reason and
// message, the pods of the other indexes deleted (and, being deleted before they succeeded,
// counted as failed, as kube-controller-manager counts them), then Complete with the same
// reason and message.
func TestSuccessPolicyEndsTheJobEarly(t *testing.T) {
	f := start(t)
	j := f.create(newJob("leader", func(s *batchv1.JobSpec) {
		indexed(5, 5)(s)
		s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
			{SucceededIndexes: ptr("0-2"), SucceededCount: ptr(int32(2))},
			{SucceededCount: ptr(int32(4))},
		}}
	}))
	f.waitPods(j, 5)
	f.end(f.podAt(j, "3"), 0) // not in rule 0's indexes, and 1 of the 4 rule 1 wants
	f.waitJob("leader", "index 3 completed", func(j *batchv1.Job) bool { return j.Status.CompletedIndexes == "3" })
	f.end(f.podAt(j, "1"), 0) // 1 of the 2 of 0-2 rule 0 wants
	f.waitJob("leader", "indexes 1,3 completed", func(j *batchv1.Job) bool { return j.Status.CompletedIndexes == "1,3" })
	if c := hasCond(f.job("leader"), batchv1.JobSuccessCriteriaMet); c != nil {
		t.Fatalf("success criteria met too early: %+v", c)
	}
	f.end(f.podAt(j, "0"), 0)
	done := f.waitJob("leader", "Complete", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobComplete) != nil })
	met, complete := hasCond(done, batchv1.JobSuccessCriteriaMet), hasCond(done, batchv1.JobComplete)
	if met == nil || met.Reason != "SuccessPolicy" || met.Message != "Matched rules at index 0" ||
		complete.Reason != "SuccessPolicy" || complete.Message != "Matched rules at index 0" {
		t.Fatalf("conditions: %+v", done.Status.Conditions)
	}
	if done.Status.CompletedIndexes != "0,1,3" || done.Status.Succeeded != 3 || done.Status.Failed != 2 ||
		done.Status.Active != 0 || done.Status.CompletionTime == nil {
		t.Fatalf("finished status: %+v", done.Status)
	}
	eventually.True(t, 10*time.Second, "the pods of indexes 2 and 4 deleted", func() bool { return len(f.pods(j, false)) == 3 })
}

// backoffLimitPerIndex: a failed pod stays (finalizer held) until its index's replacement,
// which carries the failure count, is created after the index's own back-off; the index
// that fails past its limit is given up (status.failedIndexes) and not run again while the
// others go on; once every index has succeeded or failed the Job fails with FailedIndexes.
func TestBackoffLimitPerIndex(t *testing.T) {
	f := start(t)
	j := f.create(newJob("per-index", func(s *batchv1.JobSpec) {
		indexed(3, 3)(s)
		s.BackoffLimitPerIndex = ptr(int32(1))
	}))
	if *j.Spec.BackoffLimit != 2147483647 {
		t.Fatalf("backoffLimit defaulted to %d, want MaxInt32 with backoffLimitPerIndex", *j.Spec.BackoffLimit)
	}
	f.waitPods(j, 3)
	first := f.podAt(j, "0")
	if got := first.Annotations[batchv1.JobIndexFailureCountAnnotation]; got != "0" {
		t.Fatalf("first pod's failure count %q, want 0", got)
	}
	f.end(first, 1)
	f.waitJob("per-index", "failedIndexes set, none failed yet", func(j *batchv1.Job) bool {
		return j.Status.FailedIndexes != nil && *j.Status.FailedIndexes == "" && j.Status.Active == 2
	})
	// Held for its replacement: not counted, finalizer kept, nothing created before 10 s.
	if ok, got := eventually.Within(500*time.Millisecond, func() (bool, string) {
		p := f.fresh(first.Name)
		n := len(f.pods(j, true))
		return len(p.Finalizers) == 0 || n != 2 || f.job("per-index").Status.Failed != 0,
			fmt.Sprintf("finalizers %v, %d running", p.Finalizers, n)
	}); ok {
		t.Fatalf("the failed pod was not held for its replacement: %s", got)
	}
	f.clock.Step(10 * time.Second)
	second := f.podAt(j, "0")
	if got := second.Annotations[batchv1.JobIndexFailureCountAnnotation]; got != "1" {
		t.Fatalf("replacement's failure count %q, want 1", got)
	}
	f.waitJob("per-index", "the first failure counted", func(j *batchv1.Job) bool { return j.Status.Failed == 1 })
	eventually.That(t, 10*time.Second, "the replaced pod released", func() (bool, string) {
		p := f.fresh(first.Name)
		return len(p.Finalizers) == 0, fmt.Sprint(p.Finalizers)
	})
	f.end(second, 1) // its second failure: index 0 is given up
	f.waitJob("per-index", "index 0 failed", func(j *batchv1.Job) bool {
		return j.Status.FailedIndexes != nil && *j.Status.FailedIndexes == "0" && j.Status.Failed == 2
	})
	f.clock.Step(time.Minute)
	if ok, _ := eventually.Within(500*time.Millisecond, func() (bool, string) {
		for _, p := range f.pods(j, true) {
			if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
				return true, p.Name
			}
		}
		return false, ""
	}); ok {
		t.Fatal("a failed index was run again")
	}
	if c := hasCond(f.job("per-index"), batchv1.JobFailureTarget); c != nil {
		t.Fatalf("failed while indexes 1 and 2 still run: %+v", c)
	}
	f.end(f.podAt(j, "1"), 0)
	f.end(f.podAt(j, "2"), 0)
	failed := f.waitJob("per-index", "Failed", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobFailed) != nil })
	c := hasCond(failed, batchv1.JobFailed)
	if c.Reason != "FailedIndexes" || c.Message != "Job has failed indexes" || failed.Status.CompletedIndexes != "1,2" ||
		*failed.Status.FailedIndexes != "0" || failed.Status.Succeeded != 2 || failed.Status.Failed != 2 {
		t.Fatalf("failed Job: %+v", failed.Status)
	}
}

// maxFailedIndexes with a FailIndex rule: exit code 42 gives its index up at once (no
// retry though backoffLimitPerIndex allows two), which is one more failed index than
// maxFailedIndexes 0 allows: the Job fails with MaxFailedIndexesExceeded and its running
// pod is deleted. An ignored failure is retried and counted apart.
func TestMaxFailedIndexesAndFailIndex(t *testing.T) {
	f := start(t)
	j := f.create(newJob("strict", func(s *batchv1.JobSpec) {
		indexed(3, 2)(s)
		s.BackoffLimitPerIndex, s.MaxFailedIndexes = ptr(int32(2)), ptr(int32(0))
		s.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
			{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		}}
	}))
	f.waitPods(j, 2)
	f.failPod(f.podAt(j, "0"), 137, corev1.DisruptionTarget)
	f.clock.Step(10 * time.Second) // an ignored failure still waits out its index's back-off
	again := f.podAt(j, "0")
	if a := again.Annotations; a[batchv1.JobIndexFailureCountAnnotation] != "0" || a[batchv1.JobIndexIgnoredFailureCountAnnotation] != "1" {
		t.Fatalf("after an ignored failure the annotations are %v", a)
	}
	f.failPod(f.podAt(j, "1"), 42)
	failed := f.waitJob("strict", "Failed", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobFailed) != nil })
	c := hasCond(failed, batchv1.JobFailed)
	if c.Reason != "MaxFailedIndexesExceeded" || c.Message != "Job has exceeded the specified maximal number of failed indexes" ||
		*failed.Status.FailedIndexes != "1" || hasCond(failed, batchv1.JobFailureTarget) == nil {
		t.Fatalf("failed Job: %+v", failed.Status)
	}
	eventually.True(t, 10*time.Second, "index 0's running pod deleted", func() bool { return len(f.pods(j, true)) == 0 })
	if got := f.job("strict").Status.Failed; got != 2 {
		t.Fatalf("failed %d, want 2 (the FailIndex pod and the deleted one; the ignored one not)", got)
	}
}

// The new fields are validated as kube-apiserver v1.32 does, and are immutable.
func TestSuccessPolicyAndPerIndexValidation(t *testing.T) {
	f := start(t)
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.JobSpec)
		want   []string
	}{
		{"SuccessPolicyNotIndexed", func(s *batchv1.JobSpec) {
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr(int32(1))}}}
		}, []string{"spec.successPolicy: Invalid value: ", "requires indexed completion mode"}},
		{"BadRules", func(s *batchv1.JobSpec) {
			indexed(5, 1)(s)
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{}, {SucceededIndexes: ptr("3-1")}, {SucceededIndexes: ptr("1,7")},
				{SucceededIndexes: ptr("0-1"), SucceededCount: ptr(int32(3))}, {SucceededCount: ptr(int32(6))},
			}}
		}, []string{
			"spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified",
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "3-1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "1,7": error parsing succeededIndexes: too large index: "7"`,
			"spec.successPolicy.rules[3].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)",
			"spec.successPolicy.rules[4].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
		}},
		{"NoRules", func(s *batchv1.JobSpec) { indexed(2, 1)(s); s.SuccessPolicy = &batchv1.SuccessPolicy{} },
			[]string{"spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified"}},
		{"PerIndexNotIndexed", func(s *batchv1.JobSpec) { s.BackoffLimitPerIndex = ptr(int32(1)) },
			[]string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}},
		{"MaxFailedIndexes", func(s *batchv1.JobSpec) { indexed(2, 1)(s); s.MaxFailedIndexes = ptr(int32(3)) }, []string{
			"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
			"spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
		}},
		{"Negative", func(s *batchv1.JobSpec) {
			indexed(2, 1)(s)
			s.BackoffLimitPerIndex, s.MaxFailedIndexes = ptr(int32(-1)), ptr(int32(-1))
		}, []string{
			"spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0",
			"spec.maxFailedIndexes: Invalid value: -1: must be greater than or equal to 0",
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
	t.Run("Immutable", func(t *testing.T) {
		j := f.create(newJob("fixed", func(s *batchv1.JobSpec) {
			indexed(2, 1)(s)
			s.Suspend = ptr(true)
			s.BackoffLimitPerIndex = ptr(int32(1))
			s.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr(int32(1))}}}
		}))
		j = f.waitJob("fixed", "Suspended", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobSuspended) != nil })
		j.Spec.BackoffLimitPerIndex = ptr(int32(2))
		j.Spec.SuccessPolicy.Rules[0].SucceededCount = ptr(int32(2))
		_, err := f.client.BatchV1().Jobs("default").Update(f.ctx, j, metav1.UpdateOptions{})
		for _, w := range []string{"spec.backoffLimitPerIndex: Invalid value: 2: field is immutable", "spec.successPolicy: Invalid value: ", "field is immutable"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("update error lacks %q: %v", w, err)
			}
		}
	})
}
