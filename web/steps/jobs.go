package steps

import (
	"strconv"
	"strings"

	"webkube/web/i18n"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Flows of the batch controllers.
const (
	FlowJob     = "job"     // Job controller: 1 sees a new Job, 2 creates its pods
	FlowCronJob = "cronjob" // CronJob controller: 1 creates a Job when its schedule is due
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
func (d *Deriver) Job(eventType string, old, job *batchv1.Job) []Step {
	if job == nil {
		return nil
	}
	// Every change of a Job is noted, since its pods wait for it (see hold).
	return append(d.job(eventType, old, job), d.saw("Job", eventType, job)...)
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
	case eventType != "ADDED" || old != nil:
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

// jobDeleted: the learner deleted a Job (a CronJob's Jobs are its controller's to prune),
// and the garbage collector sees its pods without an owner; their deletions follow in this
// story (see deletion).
func (d *Deriver) jobDeleted(eventType string, job *batchv1.Job) []Step {
	key := Key("Job", job.Namespace, job.Name)
	ev := evidenceOf(eventType, "Job", job.Namespace, job.Name)
	what := i18n.K("ev.removed")
	if eventType != "DELETED" {
		what = i18n.K("ev.deletion_ts") // deleted in the foreground: its pods go first
	}
	var out []Step
	if ownerOf(job, "CronJob") == "" {
		out = append(out, d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write, Kind: "Job",
			Namespace: job.Namespace, Name: job.Name, StoryKey: key, Binds: []string{key}, ResourceVersion: job.ResourceVersion,
			Ev: ev(what)}.titled(i18n.K("jobs.you_deleted"), job.Name).root()))
	}
	if n := len(d.owned[key]); n > 0 {
		out = append(out, d.mk(Step{Flow: FlowGC, N: 1, From: APIServer, To: GC, Style: Watch, Kind: "Job",
			Namespace: job.Namespace, Name: job.Name, StoryKey: key, ResourceVersion: job.ResourceVersion,
			Ev: ev(i18n.K("ev.rs_dependents"))}.titled(i18n.K("jobs.gc_sees_gone"), job.Name, n)))
	}
	return out
}
