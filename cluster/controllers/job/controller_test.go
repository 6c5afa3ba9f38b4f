package job_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/job"
	"webkube/cluster/stepper"
	"webkube/internal/eventually"
)

// The job controller against webkube's real API server (finalizers, status subresource,
// generated selectors), on a clock the test moves. The test plays the kubelet: it sets
// the phases of the pods the controller creates.

type fixture struct {
	t      *testing.T
	client kubernetes.Interface
	clock  *clocktesting.FakeClock
	ctx    context.Context
}

func start(t *testing.T) *fixture { return startWithGate(t, nil) }

func startWithGate(t *testing.T, gate *stepper.Gate) *fixture {
	srv := apiservertest.Start(t)
	client := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := clocktesting.NewFakeClock(time.Now())
	c, err := job.New(job.Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Clock: clk, Gate: gate, Recorder: record.NewFakeRecorder(1000), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, client: client, clock: clk, ctx: ctx}
}

func newJob(name string, mutate func(*batchv1.JobSpec)) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
		}}}}
	if mutate != nil {
		mutate(&j.Spec)
	}
	return j
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) create(j *batchv1.Job) *batchv1.Job {
	f.t.Helper()
	out, err := f.client.BatchV1().Jobs("default").Create(f.ctx, j, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	j, err := f.client.BatchV1().Jobs("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

// pods lists the Job's pods, those already deleted by the controller excluded if live.
func (f *fixture) pods(j *batchv1.Job, live bool) []corev1.Pod {
	f.t.Helper()
	l, err := f.client.CoreV1().Pods("default").List(f.ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/controller-uid=" + string(j.UID)})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if !live || p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// waitPods waits until the Job has n pods not finished.
func (f *fixture) waitPods(j *batchv1.Job, n int) []corev1.Pod {
	f.t.Helper()
	var ps []corev1.Pod
	eventually.That(f.t, 10*time.Second, fmt.Sprintf("%d running pods of %s", n, j.Name), func() (bool, string) {
		ps = f.pods(j, true)
		return len(ps) == n, fmt.Sprintf("%d pods", len(ps))
	})
	return ps
}

// end plays the kubelet: the pod's container exits with code.
func (f *fixture) end(p corev1.Pod, code int32) {
	f.t.Helper()
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(f.clock.Now())}}}}
	if _, err := f.client.CoreV1().Pods("default").UpdateStatus(f.ctx, &p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitJob(name, what string, cond func(*batchv1.Job) bool) *batchv1.Job {
	f.t.Helper()
	var j *batchv1.Job
	eventually.That(f.t, 10*time.Second, name+": "+what, func() (bool, string) {
		j = f.job(name)
		return cond(j), fmt.Sprintf("%+v", j.Status)
	})
	return j
}

func hasCond(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &c
		}
	}
	return nil
}

func TestCompletionsWithParallelism(t *testing.T) {
	f := start(t)
	j := f.create(newJob("work", func(s *batchv1.JobSpec) { s.Completions, s.Parallelism = ptr(int32(3)), ptr(int32(2)) }))
	ps := f.waitPods(j, 2)
	for _, p := range ps {
		if len(p.Finalizers) != 1 || p.Finalizers[0] != batchv1.JobTrackingFinalizer || p.Labels["job-name"] != "work" ||
			metav1.GetControllerOf(&p).UID != j.UID {
			t.Fatalf("pod %s: finalizers %v labels %v owners %v", p.Name, p.Finalizers, p.Labels, p.OwnerReferences)
		}
	}
	f.waitJob("work", "active 2, startTime", func(j *batchv1.Job) bool { return j.Status.Active == 2 && j.Status.StartTime != nil })
	f.end(ps[0], 0)
	f.waitJob("work", "succeeded 1", func(j *batchv1.Job) bool { return j.Status.Succeeded == 1 })
	// Two left to complete, two at a time: the pod that ended is replaced.
	ps = f.waitPods(j, 2)
	eventually.That(t, 10*time.Second, "the counted pod's finalizer removed", func() (bool, string) {
		all := f.pods(j, false)
		for _, p := range all {
			if p.Status.Phase == corev1.PodSucceeded && len(p.Finalizers) > 0 {
				return false, p.Name
			}
		}
		return true, ""
	})
	f.end(ps[0], 0)
	f.waitJob("work", "succeeded 2", func(j *batchv1.Job) bool { return j.Status.Succeeded == 2 })
	// One left, one running: no new pod.
	if ok, got := eventually.Within(300*time.Millisecond, func() (bool, string) {
		n := len(f.pods(j, true))
		return n != 1, fmt.Sprint(n)
	}); ok {
		t.Fatalf("%s pods running with one completion left and one running", got)
	}
	f.end(f.waitPods(j, 1)[0], 0)
	done := f.waitJob("work", "Complete", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobComplete) != nil })
	if done.Status.Succeeded != 3 || done.Status.Failed != 0 || done.Status.Active != 0 || done.Status.CompletionTime == nil ||
		hasCond(done, batchv1.JobSuccessCriteriaMet) == nil || hasCond(done, batchv1.JobComplete).Reason != "CompletionsReached" {
		t.Fatalf("finished job status: %+v", done.Status)
	}
	if n := len(f.pods(j, false)); n != 3 {
		t.Fatalf("%d pods, want the 3 that succeeded (no extra)", n)
	}
}

func TestBackoffLimitWithExponentialBackoff(t *testing.T) {
	f := start(t)
	j := f.create(newJob("flaky", func(s *batchv1.JobSpec) { s.BackoffLimit = ptr(int32(1)) }))
	f.end(f.waitPods(j, 1)[0], 1)
	f.waitJob("flaky", "failed 1", func(j *batchv1.Job) bool { return j.Status.Failed == 1 })
	// No replacement before the 10 s back-off has passed on the job controller's clock.
	if ok, _ := eventually.Within(500*time.Millisecond, func() (bool, string) { return len(f.pods(j, true)) > 0, "" }); ok {
		t.Fatal("a replacement pod was created before the back-off passed")
	}
	f.clock.Step(9 * time.Second)
	if ok, _ := eventually.Within(300*time.Millisecond, func() (bool, string) { return len(f.pods(j, true)) > 0, "" }); ok {
		t.Fatal("a replacement pod was created 9 s after the failure")
	}
	f.clock.Step(time.Second)
	f.end(f.waitPods(j, 1)[0], 2)
	failed := f.waitJob("flaky", "Failed", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobFailed) != nil })
	c := hasCond(failed, batchv1.JobFailed)
	if failed.Status.Failed != 2 || c.Reason != "BackoffLimitExceeded" || c.Message != "Job has reached the specified backoff limit" ||
		hasCond(failed, batchv1.JobFailureTarget) == nil || failed.Status.CompletionTime != nil {
		t.Fatalf("failed job status: %+v", failed.Status)
	}
}

func TestActiveDeadlineDeletesPodsAndFails(t *testing.T) {
	f := start(t)
	j := f.create(newJob("slow", func(s *batchv1.JobSpec) { s.ActiveDeadlineSeconds = ptr(int64(30)) }))
	f.waitPods(j, 1)
	f.waitJob("slow", "started", func(j *batchv1.Job) bool { return j.Status.StartTime != nil })
	f.clock.Step(31 * time.Second)
	failed := f.waitJob("slow", "Failed", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobFailed) != nil })
	if c := hasCond(failed, batchv1.JobFailed); c.Reason != "DeadlineExceeded" || failed.Status.Active != 0 || failed.Status.Failed != 1 {
		t.Fatalf("status: %+v", failed.Status)
	}
	eventually.True(t, 10*time.Second, "the running pod deleted (its finalizer removed)", func() bool { return len(f.pods(j, false)) == 0 })
}

func TestTTLAfterFinished(t *testing.T) {
	f := start(t)
	j := f.create(newJob("brief", func(s *batchv1.JobSpec) { s.TTLSecondsAfterFinished = ptr(int32(60)) }))
	f.end(f.waitPods(j, 1)[0], 0)
	f.waitJob("brief", "Complete", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobComplete) != nil })
	f.clock.Step(59 * time.Second)
	if ok, _ := eventually.Within(300*time.Millisecond, func() (bool, string) {
		return f.job("brief").DeletionTimestamp != nil, ""
	}); ok {
		t.Fatal("deleted before its TTL")
	}
	f.clock.Step(2 * time.Second)
	eventually.True(t, 10*time.Second, "the expired Job deleted", func() bool {
		// Foreground: it waits for the garbage collector (not running here) with its pods.
		j, err := f.client.BatchV1().Jobs("default").Get(f.ctx, "brief", metav1.GetOptions{})
		return err != nil || j.DeletionTimestamp != nil
	})
}

func TestDeletedJobReleasesFinalizers(t *testing.T) {
	f := start(t)
	j := f.create(newJob("gone", nil))
	f.waitPods(j, 1)
	bg := metav1.DeletePropagationOrphan
	if err := f.client.BatchV1().Jobs("default").Delete(f.ctx, "gone", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "the orphaned pod's job-tracking finalizer removed", func() (bool, string) {
		ps := f.pods(j, false)
		return len(ps) == 1 && len(ps[0].Finalizers) == 0, fmt.Sprint(ps)
	})
}

// In step mode the controller holds each action at the gate, saying what and why, so the
// animator can draw it: nothing is created until the learner presses Next.
func TestStepModeHoldsEachAction(t *testing.T) {
	gate := stepper.New()
	gate.SetStepMode(true)
	f := startWithGate(t, gate)
	j := f.create(newJob("held", nil))
	prev := ""
	next := func(action string) stepper.Step {
		t.Helper()
		var s stepper.Step
		eventually.That(t, 10*time.Second, "a held "+action, func() (bool, string) {
			w := gate.Waiting()
			if len(w) == 0 {
				return false, "nothing held"
			}
			s = w[0]
			if s.Action == prev && s.Action != action {
				gate.Next() // a sync retried after a conflict announces its step again
			}
			return s.Action == action, fmt.Sprintf("%+v", w)
		})
		prev = action
		if s.Component != job.Component || s.Name == "" || s.Message == "" || s.Why == "" {
			t.Fatalf("held step without its words: %+v", s)
		}
		// The dashboard says them in the page's language from these keys.
		if s.Says.Key == "" || s.Because.Key == "" {
			t.Fatalf("held step without its catalogue keys: %+v", s)
		}
		if (action == "see-diff" || action == "create-pod") && len(f.pods(j, false)) != 0 {
			t.Fatalf("a pod exists while %s is held", action)
		}
		gate.Next()
		return s
	}
	next("see-diff")
	next("create-pod")
	f.end(f.waitPods(j, 1)[0], 0)
	next("count-pods")
	if s := next("see-finished"); s.Why != "Reached expected number of succeeded pods" {
		t.Fatalf("see-finished says why %q", s.Why)
	}
	next("finish-job")
	f.waitJob("held", "Complete", func(j *batchv1.Job) bool { return hasCond(j, batchv1.JobComplete) != nil })
}
