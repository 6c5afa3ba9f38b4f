package cronjob_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/cronjob"
	"webkube/internal/eventually"
)

// The CronJob controller against webkube's real API server on a clock the test moves. No
// job controller runs: the test finishes Jobs itself.

type fixture struct {
	t      *testing.T
	client kubernetes.Interface
	clock  *clocktesting.FakeClock
	rec    *record.FakeRecorder
	ctx    context.Context
}

func start(t *testing.T) *fixture {
	f := newFixture(t, clocktesting.NewFakeClock(time.Now()))
	f.run(f.clock)
	return f
}

// newFixture is an API server and a client, with no controller yet (see run).
func newFixture(t *testing.T, clk *clocktesting.FakeClock) *fixture {
	srv := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &fixture{t: t, client: srv.Clientset(), clock: clk, rec: record.NewFakeRecorder(1000), ctx: ctx}
}

// run starts the CronJob controller on clk.
func (f *fixture) run(clk clock.WithTicker) {
	c, err := cronjob.New(cronjob.Config{Client: f.client, Informers: informers.NewSharedInformerFactory(f.client, 0),
		Clock: clk, Recorder: f.rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.Start(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// create makes a CronJob running every 5 minutes and returns the first scheduled time
// after its creation.
func (f *fixture) create(name string, mutate func(*batchv1.CronJobSpec)) time.Time {
	f.t.Helper()
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}}}
	if mutate != nil {
		mutate(&cj.Spec)
	}
	out, err := f.client.BatchV1().CronJobs("default").Create(f.ctx, cj, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return out.CreationTimestamp.Truncate(5 * time.Minute).Add(5 * time.Minute)
}

// at moves the controller's clock to t plus a second.
func (f *fixture) at(t time.Time) { f.clock.SetTime(t.Add(time.Second)) }

func (f *fixture) jobs() []batchv1.Job {
	f.t.Helper()
	l, err := f.client.BatchV1().Jobs("default").List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range l.Items {
		if j.DeletionTimestamp == nil {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

func names(js []batchv1.Job) string {
	var n []string
	for _, j := range js {
		n = append(n, j.Name)
	}
	return strings.Join(n, ",")
}

// waitJobs waits until exactly the Jobs for the given scheduled times exist.
func (f *fixture) waitJobs(cj string, times ...time.Time) []batchv1.Job {
	f.t.Helper()
	var want []string
	for _, t := range times {
		want = append(want, fmt.Sprintf("%s-%d", cj, t.Unix()/60))
	}
	sort.Strings(want)
	var js []batchv1.Job
	eventually.That(f.t, 10*time.Second, "jobs "+strings.Join(want, ","), func() (bool, string) {
		js = f.jobs()
		return names(js) == strings.Join(want, ","), names(js)
	})
	return js
}

// settle checks that the Jobs stay what they are for a moment (nothing else is created).
func (f *fixture) settle(want string) {
	f.t.Helper()
	if ok, got := eventually.Within(400*time.Millisecond, func() (bool, string) {
		got := names(f.jobs())
		return got != want, got
	}); ok {
		f.t.Fatalf("jobs changed to %s, want still %s", got, want)
	}
}

func (f *fixture) finish(j batchv1.Job, t batchv1.JobConditionType) {
	f.t.Helper()
	now := metav1.NewTime(f.clock.Now())
	j.Status.StartTime = &now
	j.Status.Conditions = []batchv1.JobCondition{{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	if t == batchv1.JobComplete {
		j.Status.CompletionTime = &now
	}
	if _, err := f.client.BatchV1().Jobs("default").UpdateStatus(f.ctx, &j, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) cronJob(name string) *batchv1.CronJob {
	f.t.Helper()
	cj, err := f.client.BatchV1().CronJobs("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return cj
}

func TestSchedulesInItsTimeZone(t *testing.T) {
	f := start(t)
	first := f.create("tick", func(s *batchv1.CronJobSpec) { s.TimeZone = ptr("Asia/Seoul") })
	f.settle("")
	f.at(first)
	j := f.waitJobs("tick", first)[0]
	if ref := metav1.GetControllerOf(&j); ref == nil || ref.Kind != "CronJob" || ref.Name != "tick" {
		t.Fatalf("owner %v", j.OwnerReferences)
	}
	if got, want := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation], first.In(mustLoad(t, "Asia/Seoul")).Format(time.RFC3339); got != want || !strings.HasSuffix(got, "+09:00") {
		t.Fatalf("scheduled-timestamp %q, want %q", got, want)
	}
	eventually.That(t, 10*time.Second, "status active and lastScheduleTime", func() (bool, string) {
		cj := f.cronJob("tick")
		return len(cj.Status.Active) == 1 && cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Equal(&metav1.Time{Time: first}),
			fmt.Sprintf("%+v", cj.Status)
	})
	f.finish(j, batchv1.JobComplete)
	eventually.That(t, 10*time.Second, "active emptied, lastSuccessfulTime set", func() (bool, string) {
		cj := f.cronJob("tick")
		return len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil, fmt.Sprintf("%+v", cj.Status)
	})
	second := first.Add(5 * time.Minute)
	f.at(second)
	f.waitJobs("tick", first, second)
}

func mustLoad(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestForbidWaitsForTheRunningJob(t *testing.T) {
	f := start(t)
	first := f.create("single", func(s *batchv1.CronJobSpec) { s.ConcurrencyPolicy = batchv1.ForbidConcurrent })
	f.at(first)
	j := f.waitJobs("single", first)[0]
	second := first.Add(5 * time.Minute)
	f.at(second)
	f.settle(j.Name)
	// When it finishes, the missed run starts (no startingDeadlineSeconds).
	f.finish(j, batchv1.JobComplete)
	f.waitJobs("single", first, second)
}

func TestReplaceDeletesTheRunningJob(t *testing.T) {
	f := start(t)
	first := f.create("fresh", func(s *batchv1.CronJobSpec) { s.ConcurrencyPolicy = batchv1.ReplaceConcurrent })
	f.at(first)
	f.waitJobs("fresh", first)
	second := first.Add(5 * time.Minute)
	f.at(second)
	f.waitJobs("fresh", second)
}

func TestAllowRunsConcurrently(t *testing.T) {
	f := start(t)
	first := f.create("many", nil)
	f.at(first)
	f.waitJobs("many", first)
	second := first.Add(5 * time.Minute)
	f.at(second)
	f.waitJobs("many", first, second)
	eventually.True(t, 10*time.Second, "two active", func() bool { return len(f.cronJob("many").Status.Active) == 2 })
}

func TestHistoryLimits(t *testing.T) {
	f := start(t)
	first := f.create("kept", func(s *batchv1.CronJobSpec) {
		s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = ptr(int32(1)), ptr(int32(0))
	})
	var times []time.Time
	for i := range 3 {
		at := first.Add(time.Duration(i) * 5 * time.Minute)
		times = append(times, at)
		f.at(at)
		js := f.waitJobs("kept", times[max(0, i-1):]...)
		f.clock.Step(time.Second) // finish after it started
		f.finish(js[len(js)-1], batchv1.JobComplete)
	}
	f.waitJobs("kept", times[2])
	next := first.Add(15 * time.Minute)
	f.at(next)
	j := f.waitJobs("kept", times[2], next)[1]
	f.finish(j, batchv1.JobFailed) // failedJobsHistoryLimit 0: deleted at once
	f.waitJobs("kept", times[2])
}

func TestStartingDeadlineSkipsLateRuns(t *testing.T) {
	f := start(t)
	first := f.create("late", func(s *batchv1.CronJobSpec) { s.StartingDeadlineSeconds = ptr(int64(60)) })
	f.at(first.Add(2 * time.Minute)) // two minutes late: past the 60 s deadline
	f.settle("")
	if cj := f.cronJob("late"); cj.Status.LastScheduleTime != nil {
		t.Fatalf("a run past its deadline was recorded: %+v", cj.Status)
	}
	f.at(first.Add(5 * time.Minute)) // the next one, on time
	f.waitJobs("late", first.Add(5*time.Minute))
}

func TestSuspendHoldsRunsUntilResumed(t *testing.T) {
	f := start(t)
	first := f.create("paused", func(s *batchv1.CronJobSpec) { s.Suspend = ptr(true) })
	f.at(first)
	f.settle("")
	paused := f.cronJob("paused")
	paused.Spec.Suspend = ptr(false)
	if _, err := f.client.BatchV1().CronJobs("default").Update(f.ctx, paused, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitJobs("paused", first) // resumed: the missed time runs (no deadline)
}

// Two runs that started in the same second (quick Jobs; the dashboard's CronJob test made
// them on simulated nodes): the older by name goes, as Kubernetes' byJobStartTime orders
// them. Which went was left to the sort, and the newest was deleted 1 time in 6.
func TestHistoryLimitsTieByName(t *testing.T) {
	f := start(t)
	first := f.create("quick", func(s *batchv1.CronJobSpec) { s.SuccessfulJobsHistoryLimit = ptr(int32(1)) })
	second := first.Add(5 * time.Minute)
	f.at(first)
	f.waitJobs("quick", first)
	f.at(second)
	same := metav1.NewTime(f.clock.Now().Truncate(time.Second))
	for _, j := range f.waitJobs("quick", first, second) {
		j.Status.StartTime, j.Status.CompletionTime = &same, &same
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: same}}
		if _, err := f.client.BatchV1().Jobs("default").UpdateStatus(f.ctx, &j, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f.waitJobs("quick", second)
}

// slowSync is a test clock on which time passes during the controller's sync: the first
// time schedule reads it after arm, it answers, then moves on to jumpTo, as a sync that
// took long (API calls on a busy machine) would see.
type slowSync struct {
	*clocktesting.FakeClock
	mu     sync.Mutex
	jumpTo time.Time
}

func (c *slowSync) arm(to time.Time) { c.mu.Lock(); c.jumpTo = to; c.mu.Unlock() }

func (c *slowSync) Now() time.Time {
	now := c.FakeClock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.jumpTo.IsZero() && calledFrom("cronjob.(*Controller).schedule") {
		c.FakeClock.SetTime(c.jumpTo)
		c.jumpTo = time.Time{}
	}
	return now
}

func calledFrom(fn string) bool {
	pc := make([]uintptr, 8)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

// A sync during which the clock passes the next scheduled time still wakes up for it:
// the wait until then is measured when it is queued. Measured from the time the sync
// began, the wake-up came that long after the scheduled time, here never (the clock
// stands still after the jump), and the Job was not started.
func TestTimePassingDuringSyncKeepsTheNextWakeUp(t *testing.T) {
	clk := &slowSync{FakeClock: clocktesting.NewFakeClock(time.Now())}
	f := newFixture(t, clk.FakeClock)
	first := f.create("slow", nil)
	clk.arm(first.Add(time.Second)) // the first sync ends after the first scheduled time
	f.run(clk)
	f.waitJobs("slow", first)
}
