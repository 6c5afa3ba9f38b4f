package steps

import (
	"strconv"
	"time"

	"webkube/web/i18n"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxHold bounds how long a dependent waits for its owner's change (see hold).
const MaxHold = time.Second

// Versions reports the newest resourceVersion of an object the dashboard's informer
// cache holds (ok false when it holds none). The cache is written before the informer
// hands the change on, so a version newer than the deriver saw is on its way to it.
type Versions func(kind, namespace, name string) (rv uint64, ok bool)

// Latest reads an object's resourceVersion and generation from the API server: exists is
// false when it is not there (deleted); err when it could not be read (then nothing waits
// for it).
type Latest func(kind, namespace, name string) (rv uint64, generation int64, exists bool, err error)

// seenOwner is what the deriver last derived of a ReplicaSet, Deployment, Job or CronJob.
type seenOwner struct {
	rv       uint64
	gen      int64 // metadata.generation: its spec's version
	gone     bool
	deleting bool                    // its deletionTimestamp is set
	template *corev1.PodTemplateSpec // a Deployment's pod template
}

// waiting is a change held until its owner's change has been derived.
type waiting struct {
	kind   string // Pod, ReplicaSet or Job
	obj    any    // *corev1.Pod, *appsv1.ReplicaSet or *batchv1.Job
	old    any    // its previous version (nil when none)
	typ    string // ADDED, MODIFIED, DELETED
	key    string // the dependent: "Pod/ns/name"
	owner  string // its controller: "ReplicaSet/ns/name"
	wantRV uint64 // release once the owner's version this new was derived (0: any)
	gone   bool   // release once the owner's deletion was derived
	at     time.Time
}

// Each informer delivers on its own, so a pod can reach the deriver before the change of
// its ReplicaSet that made it (or deleted it), and a ReplicaSet before its Deployment's:
// its steps then joined the owner's previous story. As a Kubernetes controller waits for
// its informers, the deriver holds such a dependent until the owner's change arrives:
// while its controller owner was never seen, or while the informer cache has a version
// of the owner written before the dependent's (or the owner's deletion) that the deriver
// has not derived yet; at most MaxHold. Later changes of the same kind wait behind it, so
// none overtakes it (a replacement pod's creation passing the deletion of the pod it
// replaces left the learner's story).
func (d *Deriver) hold(kind, typ string, old, obj any, o metav1.Object) bool {
	if d.Listing {
		return false
	}
	w := waiting{kind: kind, obj: obj, old: old, typ: typ, key: Key(kind, o.GetNamespace(), o.GetName()), at: d.now()}
	behind := false
	for _, h := range d.waiting {
		behind = behind || h.kind == kind
	}
	ownerKind := map[string]string{"Pod": "ReplicaSet", "ReplicaSet": "Deployment", "Job": "CronJob"}[kind]
	if ref := metav1.GetControllerOf(o); kind == "Pod" && ref != nil && ref.Kind == "Job" {
		ownerKind = "Job" // a Job's pods wait for their Job as a ReplicaSet's for it
	}
	name := ownerOf(o, ownerKind)
	if j, ok := obj.(*batchv1.Job); ok && !isJobDeletion(typ, old, j) {
		name = "" // only who deleted a Job depends on its CronJob (jobDeletion)
	}
	if name != "" {
		w.owner = Key(ownerKind, o.GetNamespace(), name)
		own, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
		w.wantRV, w.gone = d.ownerPending(ownerKind, o.GetNamespace(), name, own)
		if rs, ok := obj.(*appsv1.ReplicaSet); ok && typ == "ADDED" && w.wantRV == 0 && !w.gone {
			w.wantRV = d.templatePending(w.owner, rs)
		}
		if w.wantRV == 0 && !w.gone && d.learnersDeletion(typ, old, obj) {
			w.wantRV, w.gone = d.latestPending(ownerKind, o.GetNamespace(), name, own)
		}
		if p, ok := obj.(*corev1.Pod); ok && ownerKind == "Job" && w.wantRV == 0 && !w.gone {
			w.gone = d.awaitsJobGone(typ, old, p, w.owner)
		}
	}
	if !behind && !d.unexplained(w) {
		return false
	}
	d.waiting = append(d.waiting, w)
	return true
}

// ownerPending says which of the owner's changes written before the dependent's (own, its
// resourceVersion) the deriver has yet to see: a version (wantRV), its deletion (gone),
// or, for an owner never seen, any (wantRV 0). Changes written after it cannot explain it:
// waiting for them let the dependent's later neighbours overtake it.
func (d *Deriver) ownerPending(kind, ns, name string, own uint64) (wantRV uint64, gone bool) {
	seen, known := d.seen[Key(kind, ns, name)]
	if d.Versions == nil {
		return 0, false
	}
	rv, cached := d.Versions(kind, ns, name)
	switch {
	case cached && rv > seen.rv && (own == 0 || rv < own):
		return rv, false
	case !cached && known && !seen.gone:
		return 0, true
	}
	return 0, false
}

// learnersDeletion: the change starts or ends a pod's deletion that, from what the deriver
// has seen of its ReplicaSet or Job, was not a controller's or the garbage collector's;
// or a CronJob's Job's deletion that, from what it has seen of the CronJob, was not the
// CronJob controller's or the collector's (the learner deleted the CronJob, and the
// Jobs' watch delivered the collector's deletion first).
func (d *Deriver) learnersDeletion(typ string, old, obj any) bool {
	if d.Latest == nil {
		return false
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		if !isDeletion(typ, old, o) {
			return false
		}
		who, _, _ := d.deleter(o, ownerOf(o, "ReplicaSet"))
		return who == Client
	case *batchv1.Job:
		return isJobDeletion(typ, old, o) && d.jobDeletion(o, i18n.Msg{}).From == Client
	}
	return false
}

// isDeletion: the change starts a pod's deletion (its deletionTimestamp set) or ends it.
func isDeletion(typ string, old any, pod *corev1.Pod) bool {
	was, _ := old.(*corev1.Pod)
	return typ == "DELETED" || pod.DeletionTimestamp != nil && (was == nil || was.DeletionTimestamp == nil)
}

// latestPending is ownerPending from the API server instead of the informer cache. The
// cache only knows a change once its watch has received it, and under load a scale-down
// reached the pods' informer first: the ReplicaSet controller's deletions were told as
// the learner's (a CI flake). A deletion that looks like the learner's is rare enough to
// be worth one read. The deletion then waits for a version written before it, for the
// owner's deletion, or, when the owner's spec changed since the deriver saw it (a
// generation it has not derived: the scale-down, whose controller has already written
// the status after its deletions), for the newest version, which its watch delivers
// after that change. A learner's own deletion changes no spec and does not wait for
// the status written after it.
func (d *Deriver) latestPending(kind, ns, name string, own uint64) (wantRV uint64, gone bool) {
	rv, gen, exists, err := d.Latest(kind, ns, name)
	seen, known := d.seen[Key(kind, ns, name)]
	switch {
	case err != nil:
		return 0, false
	case !exists:
		return 0, known && !seen.gone
	case rv > seen.rv && (own == 0 || rv < own || gen > seen.gen):
		return rv, false
	}
	return 0, false
}

// templatePending: a new ReplicaSet whose pod template is not the template the deriver last
// saw of its Deployment was made for a template change the deriver has not seen yet, even
// when the Deployment's informer has not received it either (so ownerPending cannot know):
// it waits for the Deployment's next version.
func (d *Deriver) templatePending(owner string, rs *appsv1.ReplicaSet) uint64 {
	seen, known := d.seen[owner]
	if !known || seen.gone || seen.template == nil {
		return 0
	}
	t := rs.Spec.Template.DeepCopy()
	delete(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	want := seen.template
	if len(want.Labels) == 0 && want.Labels != nil {
		want = want.DeepCopy()
		want.Labels = nil
	}
	if equality.Semantic.DeepEqual(t, want) {
		return 0
	}
	return seen.rv + 1
}

// unexplained: the change's owner has a change the deriver has not seen yet.
func (d *Deriver) unexplained(w waiting) bool {
	if w.owner == "" {
		return false
	}
	seen, known := d.seen[w.owner]
	switch {
	case w.gone:
		return !seen.gone
	case w.wantRV > 0:
		return !known || seen.rv < w.wantRV
	}
	return !known // never seen: wait for any change of it
}

// saw notes what the deriver derived of an owner, and derives the changes waiting for it.
func (d *Deriver) saw(kind, typ string, o metav1.Object) []Step {
	rv, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	so := seenOwner{rv: rv, gen: o.GetGeneration(), gone: typ == "DELETED", deleting: o.GetDeletionTimestamp() != nil}
	if dp, ok := o.(*appsv1.Deployment); ok {
		so.template = &dp.Spec.Template
	}
	d.seen[Key(kind, o.GetNamespace(), o.GetName())] = so
	return d.release(time.Time{})
}

// Due derives the held changes whose owner's change has not come within MaxHold of
// their arrival (now), and those waiting behind them.
func (d *Deriver) Due(now time.Time) []Step { return d.release(now) }

// Next is when the oldest held change is due (zero when none is held).
func (d *Deriver) Next() time.Time {
	if len(d.waiting) == 0 {
		return time.Time{}
	}
	return d.waiting[0].at.Add(MaxHold)
}

// release derives, in arrival order, each held change that is explained now or has
// waited MaxHold by now (zero now: none has), unless an earlier change of its kind still
// waits.
func (d *Deriver) release(now time.Time) []Step {
	var out []Step
	for i := 0; i < len(d.waiting); {
		w := d.waiting[i]
		blocked := false
		for _, h := range d.waiting[:i] {
			blocked = blocked || h.kind == w.kind
		}
		late := !now.IsZero() && !now.Before(w.at.Add(MaxHold))
		if blocked || (!late && d.unexplained(w)) {
			i++
			continue
		}
		d.waiting = append(d.waiting[:i:i], d.waiting[i+1:]...)
		out = append(out, d.derive(w)...)
		i = 0 // what it derived may explain an earlier one
	}
	return out
}

// derive derives a released change as it would have been on arrival.
func (d *Deriver) derive(w waiting) []Step {
	switch o := w.obj.(type) {
	case *corev1.Pod:
		old, _ := w.old.(*corev1.Pod)
		return d.podNow(w.typ, old, o)
	case *appsv1.ReplicaSet:
		old, _ := w.old.(*appsv1.ReplicaSet)
		return d.replicaSetNow(w.typ, old, o)
	case *batchv1.Job:
		old, _ := w.old.(*batchv1.Job)
		return d.jobNow(w.typ, old, o)
	}
	return nil
}

// awaitsJobGone: a finished pod of a finished Job is being deleted. Its Job's controller
// deletes only running pods, so it is the garbage collector's, after the Job's deletion,
// which the Jobs' watch may not have delivered yet: wait for it (at most MaxHold; a pod
// deleted by hand is released then).
func (d *Deriver) awaitsJobGone(typ string, old any, p *corev1.Pod, owner string) bool {
	if !isDeletion(typ, old, p) || p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		return false
	}
	job, seen := d.jobs[owner], d.seen[owner]
	if job == nil || seen.gone || seen.deleting {
		return false
	}
	_, done := jobFinished(job)
	return done
}
