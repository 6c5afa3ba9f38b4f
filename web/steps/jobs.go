package steps

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"webkube/internal/jobindex"
	"webkube/web/i18n"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Flows of the batch controllers.
const (
	FlowJob     = "job"     // Job controller: 1 sees a new Job, 2 creates or deletes its pods
	FlowCronJob = "cronjob" // CronJob controller: 1 creates a Job when its schedule is due, 2 deletes old ones
)

// The batch controllers' boxes on the diagram.
const (
	JobCtrl     = "job-controller"
	CronJobCtrl = "cronjob-controller"
)

// podMakers are the controllers, besides the ReplicaSet's, that create pods themselves
// (the pod's controller ownerReference names them) and the flow each creation joins.
var podMakers = []struct{ kind, flow string }{
	{"StatefulSet", FlowReplicaSet},
	{"DaemonSet", FlowReplicaSet},
	{"Job", FlowJob},
}

// controllerCreated is the creation of a pod its controller made (not the learner): that
// controller's write, in its owner's story. false when no such controller owns the pod.
func (d *Deriver) controllerCreated(pod *corev1.Pod, ev evFn) (Step, bool) {
	for _, m := range podMakers {
		owner := ownerOf(pod, m.kind)
		if owner == "" {
			continue
		}
		return d.mk(Step{Flow: m.flow, N: 2, From: strings.ToLower(m.kind) + "-controller", To: APIServer,
			Style: Write, Phase: "Pending", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: m.kind + "/" + owner,
			StoryKey: Key(m.kind, pod.Namespace, owner), Binds: []string{Key("Pod", pod.Namespace, pod.Name)},
			Component: "controller-manager", ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("sets.ev_created"), m.kind, owner)}.
			titled(i18n.K("sets.step_creates"), m.kind, owner, pod.Name)), true
	}
	return Step{}, false
}

// Job derives the write that made a Job and the Job controller seeing it. A CronJob's Job
// is the CronJob controller's write when its schedule came due: each run is a story of its
// own (its cause is the clock, not the learner). Any other Job is the learner's. The pods
// the Job controller then creates join that story through the Job's key.
// A deletion of a CronJob's Job that arrives before its CronJob's deletion is held for it
// (see hold).
func (d *Deriver) Job(eventType string, old, job *batchv1.Job) []Step {
	if job == nil || d.hold("Job", eventType, old, job, job) {
		return nil
	}
	return d.jobNow(eventType, old, job)
}

func (d *Deriver) jobNow(eventType string, old, job *batchv1.Job) []Step {
	out := d.job(eventType, old, job)
	// The Job as it is now tells why its controller deletes its pods (see jobDeletes).
	if key := Key("Job", job.Namespace, job.Name); eventType == "DELETED" {
		delete(d.jobs, key)
	} else {
		d.jobs[key] = job
	}
	// Every change of a Job is noted, since its pods wait for it (see hold).
	return append(out, d.saw("Job", eventType, job)...)
}

// CronJob notes a CronJob's history limits, which tell its controller's deletions of old
// Jobs (see cronPrunes). Its Jobs are its steps; its own is only its deletion (see
// cronDeleted). Its change may release a Job's deletion that waited for it (see hold),
// after that step, so the collector's deletions of its Jobs follow in its story.
func (d *Deriver) CronJob(eventType string, cj *batchv1.CronJob) []Step {
	if cj == nil {
		return nil
	}
	key := Key("CronJob", cj.Namespace, cj.Name)
	out := d.cronDeleted(eventType, cj)
	if eventType == "DELETED" {
		delete(d.crons, key)
	} else {
		d.crons[key] = cj
	}
	return append(out, d.saw("CronJob", eventType, cj)...)
}

// cronDeleted: the learner deleted the CronJob (the removal, or its deletionTimestamp
// when deleted in the foreground, whichever comes first), and the garbage collector sees
// its Jobs without an owner; it deletes them in this story (see jobDeletion).
func (d *Deriver) cronDeleted(eventType string, cj *batchv1.CronJob) []Step {
	key := Key("CronJob", cj.Namespace, cj.Name)
	seen, known := d.seen[key]
	if known && (seen.deleting || seen.gone) || eventType != "DELETED" && cj.DeletionTimestamp == nil {
		return nil
	}
	ev := evidenceOf(eventType, "CronJob", cj.Namespace, cj.Name)
	what := i18n.K("ev.removed")
	if eventType != "DELETED" {
		what = i18n.K("ev.deletion_ts")
	}
	out := []Step{d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write, Kind: "CronJob",
		Namespace: cj.Namespace, Name: cj.Name, StoryKey: key, Binds: []string{key},
		ResourceVersion: cj.ResourceVersion, Ev: ev(what)}.titled(i18n.K("jobs.you_deleted_cron"), cj.Name).root())}
	if n := d.cronJobs(cj); n > 0 {
		out = append(out, d.mk(Step{Flow: FlowGC, N: 1, From: APIServer, To: GC, Style: Watch, Kind: "CronJob",
			Namespace: cj.Namespace, Name: cj.Name, StoryKey: key, ResourceVersion: cj.ResourceVersion,
			Ev: ev(i18n.K("ev.rs_dependents"))}.titled(i18n.K("jobs.gc_sees_cron_gone"), cj.Name, n)))
	}
	return out
}

// cronJobs counts the CronJob's Jobs not yet being deleted.
func (d *Deriver) cronJobs(cj *batchv1.CronJob) int {
	n := 0
	for _, j := range d.jobs {
		if j.Namespace == cj.Namespace && j.DeletionTimestamp == nil && ownerOf(j, "CronJob") == cj.Name {
			n++
		}
	}
	return n
}

// isJobDeletion: the change removes a Job or starts its deletion.
func isJobDeletion(typ string, old any, job *batchv1.Job) bool {
	was, _ := old.(*batchv1.Job)
	return typ == "DELETED" || job.DeletionTimestamp != nil && (was == nil || was.DeletionTimestamp == nil)
}

func (d *Deriver) job(eventType string, old, job *batchv1.Job) []Step {
	switch {
	case eventType == "DELETED":
		if seen, known := d.seen[Key("Job", job.Namespace, job.Name)]; known && (seen.deleting || seen.gone) {
			return nil // its deletion was derived when its deletionTimestamp was set
		}
		return d.jobDeleted(eventType, job)
	case old != nil && old.DeletionTimestamp == nil && job.DeletionTimestamp != nil:
		return d.jobDeleted(eventType, job)
	case old != nil:
		return d.jobChanged(old, job)
	case eventType != "ADDED":
		return nil
	}
	key := Key("Job", job.Namespace, job.Name)
	ev := evidenceOf(eventType, "Job", job.Namespace, job.Name)
	c := job.DeepCopy()
	c.ManagedFields = nil
	s := Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write, Kind: "Job", Namespace: job.Namespace, Name: job.Name,
		StoryKey: key, Binds: []string{key}, ResourceVersion: job.ResourceVersion, Diff: objectDiff(nil, c)}
	if cj := ownerOf(job, "CronJob"); cj != "" {
		s.Flow, s.N, s.From, s.Owner, s.Component = FlowCronJob, 1, CronJobCtrl, "CronJob/"+cj, "controller-manager"
		s.Ev = ev(i18n.K("sets.ev_created"), "CronJob", cj)
		s = s.titled(i18n.K("jobs.cron_creates"), cj, job.Name).root()
	} else {
		s.Ev = ev(i18n.K("ev.created_client"))
		s = s.titled(i18n.K("jobs.you_created"), job.Name).root()
	}
	parallel, completions := int32(1), "-"
	if job.Spec.Parallelism != nil {
		parallel = *job.Spec.Parallelism
	}
	if job.Spec.Completions != nil {
		completions = strconv.Itoa(int(*job.Spec.Completions))
	}
	sees := Step{Flow: FlowJob, N: 1, From: APIServer, To: JobCtrl, Style: Watch, Kind: "Job", Namespace: job.Namespace,
		Name: job.Name, Owner: s.Owner, StoryKey: key, ResourceVersion: job.ResourceVersion,
		Ev: ev(i18n.K("jobs.ev_parallelism"), parallel, completions)}.titled(i18n.K("jobs.sees"), job.Name, parallel)
	return []Step{d.mk(s), d.mk(sees)}
}

// jobGone: the Job is deleted or being deleted, or the deriver never saw it, as the
// garbage collector finds a pod's owner missing: its pods' deletions are the collector's.
func (d *Deriver) jobGone(ns, name string) bool {
	seen, known := d.seen[Key("Job", ns, name)]
	return !known || seen.gone || seen.deleting
}

// jobDeleted: someone deleted a Job (see jobDeletion), and the garbage collector sees its
// pods without an owner; their deletions follow in this story (see deletion).
func (d *Deriver) jobDeleted(eventType string, job *batchv1.Job) []Step {
	key := Key("Job", job.Namespace, job.Name)
	ev := evidenceOf(eventType, "Job", job.Namespace, job.Name)
	what := i18n.K("ev.removed")
	if eventType != "DELETED" {
		what = i18n.K("ev.deletion_ts") // deleted in the foreground: its pods go first
	}
	out := []Step{d.mk(d.jobDeletion(job, ev(what)))}
	if n := len(d.owned[key]); n > 0 {
		out = append(out, d.mk(Step{Flow: FlowGC, N: 1, From: APIServer, To: GC, Style: Watch, Kind: "Job",
			Namespace: job.Namespace, Name: job.Name, StoryKey: key, ResourceVersion: job.ResourceVersion,
			Ev: ev(i18n.K("ev.rs_dependents"))}.titled(i18n.K("jobs.gc_sees_gone"), job.Name, n)))
	}
	return out
}

// jobChanged: the learner suspended or resumed a Job or changed its parallelism (only a
// client changes a Job's spec). Their write starts a story; the Job controller's
// deletions or creations that follow join it through the Job's key.
func (d *Deriver) jobChanged(old, job *batchv1.Job) []Step {
	was, is := old.Spec.Suspend != nil && *old.Spec.Suspend, job.Spec.Suspend != nil && *job.Spec.Suspend
	title, args := "", []any{job.Name}
	switch {
	case !was && is:
		title = i18n.K("jobs.you_suspended")
	case was && !is:
		title = i18n.K("jobs.you_resumed")
	case old.Spec.Parallelism != nil && job.Spec.Parallelism != nil && *old.Spec.Parallelism != *job.Spec.Parallelism:
		title, args = i18n.K("jobs.you_set_parallelism"), []any{job.Name, *old.Spec.Parallelism, *job.Spec.Parallelism}
	default:
		return nil
	}
	key := Key("Job", job.Namespace, job.Name)
	a, b := old.DeepCopy(), job.DeepCopy()
	a.ManagedFields, b.ManagedFields = nil, nil
	return []Step{d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write, Kind: "Job", Namespace: job.Namespace,
		Name: job.Name, StoryKey: key, Binds: []string{key}, ResourceVersion: job.ResourceVersion, Diff: objectDiff(a, b),
		Ev: evidenceOf("MODIFIED", "Job", job.Namespace, job.Name)(i18n.K("ev.spec_changed"))}.titled(title, args...).root())}
}

// jobDeletes says why the Job controller deletes a pod of a live Job, from the Job as the
// watches showed it just before, in the controller's order (syncRunning): a terminal
// condition due or set (backoffLimit, activeDeadlineSeconds, a podFailurePolicy rule,
// completions), then suspension, then more pods running than it wants. false: the
// controller had no reason to, so someone else deleted it.
func (d *Deriver) jobDeletes(pod *corev1.Pod, name string) (i18n.Msg, bool) {
	job := d.jobs[Key("Job", pod.Namespace, name)]
	if pp := d.pods[pod.UID]; job == nil || pp != nil && pp.done || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return i18n.Msg{}, false // it deletes only pods still running
	}
	spec, st := job.Spec, job.Status
	failed, succeeded := st.Failed, st.Succeeded
	if u := st.UncountedTerminatedPods; u != nil { // counted, not yet added up
		failed, succeeded = failed+int32(len(u.Failed)), succeeded+int32(len(u.Succeeded))
	}
	limit := int32(6)
	if spec.BackoffLimit != nil {
		limit = *spec.BackoffLimit
	}
	why := func(key string, args ...any) (i18n.Msg, bool) { return i18n.Msg{Key: key, Args: args}, true }
	onFailure, restarts := spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure, int32(0)
	if onFailure { // only then do restarts count (and adding them up walks every pod)
		restarts = d.jobRestarts(pod, name)
	}
	switch {
	case failed > limit:
		return why(i18n.K("jobs.why_backoff"), failed, limit)
	case onFailure && (limit == 0 && restarts > 0 || limit > 0 && restarts >= limit):
		return why(i18n.K("jobs.why_restarts"), restarts, limit)
	case spec.ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		// Times on the wire are whole seconds: a second's grace.
		!d.deletedAt(pod).Add(time.Second).Before(st.StartTime.Add(time.Duration(*spec.ActiveDeadlineSeconds)*time.Second)):
		return why(i18n.K("jobs.why_deadline"), *spec.ActiveDeadlineSeconds)
	}
	for _, c := range st.Conditions {
		switch c.Type {
		case batchv1.JobFailureTarget, batchv1.JobFailed, batchv1.JobSuccessCriteriaMet, batchv1.JobComplete:
			if c.Status == corev1.ConditionTrue {
				return why(i18n.K("jobs.why_condition"), string(c.Type), c.Message)
			}
		}
	}
	if spec.Completions != nil && succeeded >= *spec.Completions {
		return why(i18n.K("jobs.why_completed"), succeeded, *spec.Completions)
	}
	// manage: an Indexed Job's surplus goes first, suspended or not.
	if m, ok := d.indexSurplus(job, pod); ok {
		return m, true
	}
	if spec.Suspend != nil && *spec.Suspend {
		return why(i18n.K("why.job_suspended"))
	}
	if has, wants := d.jobActive(Key("Job", pod.Namespace, name)), jobWants(job, succeeded); has > wants {
		return why(i18n.K("why.has_wants"), has, wants)
	}
	return i18n.Msg{}, false
}

// indexSurplus says why an Indexed Job's controller does not want the pod run, as
// Kubernetes' (activePodsForRemoval, and webkube's surplusIndexed): it has no valid
// completion index, its index is not below completions (lowered since), its index
// already succeeded, or an older live pod runs the same index (the newer goes; pods made
// in the same second could be either).
func (d *Deriver) indexSurplus(job *batchv1.Job, pod *corev1.Pod) (i18n.Msg, bool) {
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion || job.Spec.Completions == nil {
		return i18n.Msg{}, false
	}
	why := func(key string, args ...any) (i18n.Msg, bool) { return i18n.Msg{Key: key, Args: args}, true }
	ix, ok := jobindex.Of(pod)
	switch {
	case !ok:
		return why(i18n.K("jobs.why_index_none"))
	case ix >= int(*job.Spec.Completions):
		return why(i18n.K("jobs.why_index_out"), ix, *job.Spec.Completions)
	case jobindex.Parse(job.Status.CompletedIndexes).Has(ix):
		return why(i18n.K("jobs.why_index_done"), ix)
	}
	for uid := range d.owned[Key("Job", pod.Namespace, job.Name)] {
		pp := d.pods[uid]
		if uid == pod.UID || pp == nil || pp.obj == nil || pp.done {
			continue
		}
		if other, ok := jobindex.Of(pp.obj); ok && other == ix && !pod.CreationTimestamp.Before(&pp.obj.CreationTimestamp) {
			return why(i18n.K("jobs.why_index_taken"), pp.obj.Name, ix)
		}
	}
	return i18n.Msg{}, false
}

// jobRestarts adds up the container restarts of the Job's pods still Pending or Running,
// being deleted or not, as Kubernetes' job controller (pastBackoffLimitOnFailure) does:
// one sync deletes them all, and the watches show the first deletion before the next.
// pod is the one being deleted, as it is now.
func (d *Deriver) jobRestarts(pod *corev1.Pod, job string) int32 {
	n := podRestarts(pod)
	for uid, pp := range d.pods {
		if p := pp.obj; uid != pod.UID && p != nil && p.Namespace == pod.Namespace && ownerOf(p, "Job") == job &&
			(p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning) {
			n += podRestarts(p)
		}
	}
	return n
}

func podRestarts(p *corev1.Pod) int32 {
	n := int32(0)
	for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		n += cs.RestartCount
	}
	return n
}

// deletedAt is when the pod's deletion was asked for: its deletionTimestamp less its grace
// period, or now for a pod removed at once.
func (d *Deriver) deletedAt(pod *corev1.Pod) time.Time {
	t := pod.DeletionTimestamp
	if t == nil {
		return d.now()
	}
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		return t.Add(-time.Duration(*g) * time.Second)
	}
	return t.Time
}

// jobActive counts the Job's pods neither finished nor being deleted.
func (d *Deriver) jobActive(key string) int {
	n := 0
	for uid := range d.owned[key] {
		if pp := d.pods[uid]; pp == nil || !pp.done {
			n++
		}
	}
	return n
}

// jobWants is how many pods the Job controller wants running (manage).
func jobWants(job *batchv1.Job, succeeded int32) int {
	want := int32(1)
	if job.Spec.Parallelism != nil {
		want = *job.Spec.Parallelism
	}
	switch {
	case job.Spec.Completions != nil:
		want = min(want, max(*job.Spec.Completions-succeeded, 0))
	case succeeded > 0:
		want = 0 // a work queue: one success and no new pods are needed
	}
	return int(want)
}

// jobDeletion is the write that deleted a Job: its CronJob controller's (an old run past the
// history limits, or a running one the next replaces under concurrencyPolicy Replace), the
// Job controller's (ttlSecondsAfterFinished), the garbage collector's (its CronJob is
// gone), else the learner's.
func (d *Deriver) jobDeletion(job *batchv1.Job, ev i18n.Msg) Step {
	key := Key("Job", job.Namespace, job.Name)
	s := Step{To: APIServer, Style: Write, Kind: "Job", Namespace: job.Namespace, Name: job.Name, StoryKey: key,
		Binds: []string{key}, ResourceVersion: job.ResourceVersion, Ev: ev}
	at := d.now()
	if job.DeletionTimestamp != nil {
		at = job.DeletionTimestamp.Time
	}
	if cj := ownerOf(job, "CronJob"); cj != "" {
		s.Owner = "CronJob/" + cj
		if run, limit, kind, ok := d.cronPrunes(job, cj); ok {
			// The newer run whose end put this one past the limit: its story goes on.
			s.Flow, s.N, s.From, s.StoryKey = FlowCronJob, 2, CronJobCtrl, Key("Job", job.Namespace, run)
			return s.titled(i18n.K("jobs.cron_prunes"), cj, job.Name, limit, kind)
		}
		c := d.crons[Key("CronJob", job.Namespace, cj)]
		if c == nil || c.DeletionTimestamp != nil {
			// In the story of the CronJob's deletion; the Job's pods follow it there (Binds).
			s.Flow, s.N, s.From, s.StoryKey = FlowGC, 2, GC, Key("CronJob", job.Namespace, cj)
			return s.titled(i18n.K("jobs.gc_deletes_job"), job.Name, cj)
		}
		if _, done := jobFinished(job); !done && c.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
			// Its schedule came due while it ran: a new run replaces it (replaceActive).
			s.Flow, s.N, s.From = FlowCronJob, 2, CronJobCtrl
			return s.titled(i18n.K("jobs.cron_replaces"), cj, job.Name, i18n.Msg{Key: i18n.K("why.cj_replace")})
		}
	} else if ttl := job.Spec.TTLSecondsAfterFinished; ttl != nil {
		if end, done := jobFinished(job); done && !at.Add(time.Second).Before(end.Add(time.Duration(*ttl)*time.Second)) {
			s.Flow, s.N, s.From = FlowJob, 2, JobCtrl
			return s.titled(i18n.K("jobs.deletes_expired"), job.Name,
				i18n.Msg{Key: i18n.K("why.job_ttl"), Args: []any{int(at.Sub(end).Seconds()), *ttl}})
		}
	}
	s.Flow, s.From = FlowYou, Client
	return s.titled(i18n.K("jobs.you_deleted"), job.Name).root()
}

// cronPrunes says whether the CronJob controller deleted the Job as an old run: it finished
// and is among the oldest of its CronJob's finished Jobs of its kind past that kind's
// history limit (cleanupHistory). run is the newest of them, limit and kind the reason.
func (d *Deriver) cronPrunes(job *batchv1.Job, cj string) (run string, limit int32, kind i18n.Msg, ok bool) {
	c := d.crons[Key("CronJob", job.Namespace, cj)]
	if _, done := jobFinished(job); c == nil || c.DeletionTimestamp != nil || !done {
		return "", 0, kind, false
	}
	failed := jobFailed(job)
	lim, kind := c.Spec.SuccessfulJobsHistoryLimit, i18n.Msg{Key: i18n.K("jobs.successful")}
	if failed {
		lim, kind = c.Spec.FailedJobsHistoryLimit, i18n.Msg{Key: i18n.K("jobs.failed")}
	}
	same := []*batchv1.Job{job}
	for _, j := range d.jobs {
		if j.Namespace != job.Namespace || j.Name == job.Name || j.DeletionTimestamp != nil || ownerOf(j, "CronJob") != cj {
			continue
		}
		if _, ok := jobFinished(j); ok && jobFailed(j) == failed {
			same = append(same, j)
		}
	}
	if lim == nil || len(same) <= int(*lim) {
		return "", 0, kind, false
	}
	sort.Slice(same, func(i, k int) bool {
		if a, b := jobStart(same[i]), jobStart(same[k]); !a.Equal(b) {
			return a.Before(b)
		}
		return same[i].Name < same[k].Name
	})
	for _, j := range same[:len(same)-int(*lim)] {
		if j.Name == job.Name {
			return same[len(same)-1].Name, *lim, kind, true
		}
	}
	return "", 0, kind, false
}

// jobFinished is when the Job's Complete or Failed condition became true.
func jobFinished(job *batchv1.Job) (time.Time, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

func jobFailed(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// jobStart orders a CronJob's runs as its controller does: by startTime, else creation.
func jobStart(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}
