package steps

import (
	"maps"
	"sort"
	"strings"
	"webkube/web/i18n"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
)

// track keeps, per ReplicaSet and per Job, which live (not terminating) pods it controls,
// so a deletion can be told apart: the ReplicaSet's own (it has more than it wants), the
// garbage collector's (the owner is gone) or someone else's. A ReplicaSet's pods are
// under "namespace/name", a Job's under its Key ("Job/namespace/name").
func (d *Deriver) track(eventType string, pod *corev1.Pod) {
	if prev, ok := d.ownedBy[pod.UID]; ok {
		delete(d.owned[prev], pod.UID)
		delete(d.ownedBy, pod.UID)
	}
	key := ""
	if rs := ownerOf(pod, "ReplicaSet"); rs != "" {
		key = pod.Namespace + "/" + rs
	} else if job := ownerOf(pod, "Job"); job != "" {
		key = Key("Job", pod.Namespace, job)
	}
	if pp := d.pods[pod.UID]; pp != nil {
		pp.done = pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		pp.obj = pod
	}
	if eventType == "DELETED" || pod.DeletionTimestamp != nil || key == "" {
		return
	}
	if d.owned[key] == nil {
		d.owned[key] = map[types.UID]struct{}{}
	}
	d.owned[key][pod.UID] = struct{}{}
	d.ownedBy[pod.UID] = key
}

// deleter says who set a pod's deletionTimestamp (or deleted it at once), from what the
// watches showed just before: the answer is the same one the controllers themselves act on.
func (d *Deriver) deleter(pod *corev1.Pod, rs string) (who string, has, wants int) {
	if job := ownerOf(pod, "Job"); job != "" && d.jobGone(pod.Namespace, job) {
		return GC, 0, 0
	} else if _, ok := d.jobDeletes(pod, job); job != "" && ok {
		return JobCtrl, 0, 0
	}
	if rs == "" {
		return Client, 0, 0
	}
	st, ok := d.rss[pod.Namespace+"/"+rs]
	if !ok || st.deleting {
		return GC, 0, 0
	}
	has = len(d.owned[pod.Namespace+"/"+rs])
	if has > int(st.desired) {
		return RSCtrl, has, int(st.desired)
	}
	return Client, 0, 0
}

// deletion is the write that starts a pod's deletion, by whoever did it, and the kubelet
// of its node seeing it.
func (d *Deriver) deletion(pod *corev1.Pod, rs string, ev evFn) []Step {
	key := Key("Pod", pod.Namespace, pod.Name)
	base := Step{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, To: APIServer, Style: Write,
		Phase: "Terminating", Node: pod.Spec.NodeName, Binds: []string{key}, ResourceVersion: pod.ResourceVersion,
		Ev: ev(i18n.K("ev.deletion_ts"))}
	if pod.DeletionTimestamp == nil {
		base.Ev = ev(i18n.K("ev.deleted_at_once"))
	}
	job := ownerOf(pod, "Job")
	if rs != "" {
		base.Owner = "ReplicaSet/" + rs
	} else if job != "" {
		base.Owner = "Job/" + job
	}
	who, has, wants := d.deleter(pod, rs)
	s := base
	s.From = who
	switch {
	case who == GC && job != "":
		s.Flow, s.N, s.StoryKey = FlowGC, 2, Key("Job", pod.Namespace, job)
		s.say(i18n.K("jobs.gc_deletes_pod"), pod.Name, job)
	case who == GC:
		s.Flow, s.N, s.StoryKey = FlowGC, 2, Key("ReplicaSet", pod.Namespace, rs)
		s.say(i18n.K("step.gc_deletes_pod"), pod.Name, rs)
	case who == RSCtrl:
		s.Flow, s.N, s.StoryKey = FlowReplicaSet, 2, Key("ReplicaSet", pod.Namespace, rs)
		s.say(i18n.K("step.rs_deletes"), rs, pod.Name, has, wants)
	case who == JobCtrl:
		why, _ := d.jobDeletes(pod, job)
		s.Flow, s.N, s.StoryKey = FlowJob, 2, Key("Job", pod.Namespace, job)
		s.say(i18n.K("jobs.deletes_pod"), job, pod.Name, why)
	default:
		s.Flow, s.StoryKey = FlowYou, key
		s = s.titled(i18n.K("step.you_deleted_pod"), pod.Name).root()
	}
	out := []Step{d.mk(s)}
	if pod.Spec.NodeName != "" && pod.DeletionTimestamp != nil {
		g := int64(30)
		if pod.DeletionGracePeriodSeconds != nil {
			g = *pod.DeletionGracePeriodSeconds
		}
		out = append(out, d.mk(Step{Flow: FlowDelete, N: 2, From: APIServer, To: Kubelet(pod.Spec.NodeName), Style: Watch,
			Phase: "Terminating", Node: pod.Spec.NodeName, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name,
			Owner: base.Owner, StoryKey: key, ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("ev.deletion_ts"))}.
			titled(i18n.K("step.kubelet_terminating"), pod.Name, g)))
	}
	return out
}

// rsSeesDeleted: a pod its ReplicaSet still wants was deleted by someone else. A pod being
// deleted no longer counts as one of the ReplicaSet's (as kube's controller filters active
// pods), so the ReplicaSet controller sees desired ≠ current as soon as the deletion starts,
// and its replacement follows in this story, not after the pod is gone.
func (d *Deriver) rsSeesDeleted(pod *corev1.Pod, rs string, ev evFn) []Step {
	if who, _, _ := d.deleter(pod, rs); who != Client || rs == "" {
		return nil
	}
	st, ok := d.rss[pod.Namespace+"/"+rs]
	has := len(d.owned[pod.Namespace+"/"+rs])
	if _, counted := d.owned[pod.Namespace+"/"+rs][pod.UID]; counted {
		has--
	}
	if !ok || st.deleting || has >= int(st.desired) {
		return nil
	}
	return []Step{d.mk(Step{Flow: FlowReplicaSet, N: 1, From: APIServer, To: RSCtrl, Style: Watch,
		Kind: "ReplicaSet", Namespace: pod.Namespace, Name: rs, StoryKey: Key("Pod", pod.Namespace, pod.Name),
		Binds: []string{Key("ReplicaSet", pod.Namespace, rs)}, ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("ev.removed"))}.
		titled(i18n.K("step.rs_sees_deleted"), rs, pod.Name, has, st.desired))}
}

// podGone: the API server removed the pod. On a node, that follows the kubelet stopping
// its containers and confirming with grace 0; its ReplicaSet, if it still wants it,
// now sees desired ≠ current.
func (d *Deriver) podGone(pod *corev1.Pod, rs string, ev evFn) []Step {
	pp := d.pods[pod.UID]
	delete(d.pods, pod.UID)
	var out []Step
	if pp == nil || !pp.deleting {
		out = append(out, d.deletion(pod, rs, ev)...)
	}
	key := Key("Pod", pod.Namespace, pod.Name)
	owner := ""
	if rs != "" {
		owner = "ReplicaSet/" + rs
	}
	base := Step{Flow: FlowDelete, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: owner,
		Node: pod.Spec.NodeName, StoryKey: key, ResourceVersion: pod.ResourceVersion}
	if n := pod.Spec.NodeName; n != "" {
		s := base
		s.N, s.From, s.To, s.Style, s.Phase = 3, Kubelet(n), Containerd(n), CRI, "Terminating"
		s.say(i18n.K("step.kubelet_stops"), pod.Name)
		s.Ev = ev(i18n.K("ev.kubelet_confirmed"))
		out = append(out, d.mk(s))
		s = base
		s.N, s.From, s.To, s.Style, s.Phase = 4, Kubelet(n), APIServer, Write, "Gone"
		s.say(i18n.K("step.kubelet_confirms"), pod.Name)
		s.Ev = ev(i18n.K("ev.removed"))
		out = append(out, d.mk(s))
	} else {
		s := base
		s.N, s.From, s.To, s.Style, s.Phase = 4, APIServer, APIServer, Write, "Gone"
		s.say(i18n.K("step.removed_unscheduled"), pod.Name)
		s.Ev = ev(i18n.K("ev.removed"))
		out = append(out, d.mk(s))
	}
	if pp == nil || !pp.deleting { // deleted at once: the ReplicaSet sees it now
		out = append(out, d.rsSeesDeleted(pod, rs, ev)...)
	}
	return out
}

// relabelled: a client changed the pod's labels (controllers never do), and the
// ReplicaSet controller released or adopted it as a result.
func (d *Deriver) relabelled(old, pod *corev1.Pod, ev evFn) []Step {
	var out []Step
	key := Key("Pod", pod.Namespace, pod.Name)
	if !maps.Equal(old.Labels, pod.Labels) {
		key2, args := labelChange(old.Labels, pod.Labels, pod.Name)
		out = append(out, d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write,
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName, StoryKey: key,
			Binds: []string{key}, ResourceVersion: pod.ResourceVersion, Ev: ev(i18n.K("ev.labels_changed"))}.
			titled(key2, args...).root()))
	}
	was, is := ownerOf(old, "ReplicaSet"), ownerOf(pod, "ReplicaSet")
	rs, verb, note := was, "releases", i18n.K("step.rs_sees_released")
	if was == "" && is != "" {
		rs, verb, note = is, "adopts", i18n.K("step.rs_sees_adopted")
	} else if was == "" || is != "" {
		return out
	}
	rsKey := Key("ReplicaSet", pod.Namespace, rs)
	st := d.rss[pod.Namespace+"/"+rs]
	has := len(d.owned[pod.Namespace+"/"+rs])
	if verb == "releases" {
		has--
	} else {
		has++
	}
	base := Step{Flow: FlowReplicaSet, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Node: pod.Spec.NodeName,
		StoryKey: key, Binds: []string{rsKey}, ResourceVersion: pod.ResourceVersion}
	s1 := base
	s1.N, s1.From, s1.To, s1.Style = 1, APIServer, RSCtrl, Watch
	s1.say(note, rs, pod.Name, has, st.desired)
	s1.Ev = ev(i18n.K("ev.labels_changed"))
	s2 := base
	s2.N, s2.From, s2.To, s2.Style = 2, RSCtrl, APIServer, Write
	s2.say(map[string]string{"releases": i18n.K("step.rs_releases"), "adopts": i18n.K("step.rs_adopts")}[verb], rs, pod.Name)
	s2.Ev = ev(map[string]string{"releases": i18n.K("ev.owner_removed"), "adopts": i18n.K("ev.owner_added")}[verb], rs)
	if verb == "releases" {
		s2.Owner = ""
	} else {
		s2.Owner = "ReplicaSet/" + rs
	}
	return append(out, d.mk(s1), d.mk(s2))
}

// labelChange words a label edit: "removed app from", "set app=echo on".
func labelChange(old, cur map[string]string, pod string) (string, []any) {
	var removed, set []string
	for k := range old {
		if _, ok := cur[k]; !ok {
			removed = append(removed, k)
		}
	}
	for k, v := range cur {
		if ov, ok := old[k]; !ok || ov != v {
			set = append(set, k+"="+v)
		}
	}
	sort.Strings(removed)
	sort.Strings(set)
	s, r := strings.Join(set, ","), strings.Join(removed, ",")
	switch {
	case len(set) > 0 && len(removed) > 0:
		return i18n.K("step.you_label_both"), []any{s, r, pod}
	case len(removed) > 0:
		return i18n.K("step.you_label_removed"), []any{r, pod}
	}
	return i18n.K("step.you_label_set"), []any{s, pod}
}

// ReplicaSet derives the writes that changed a ReplicaSet (the learner's, or its
// Deployment's) and step 1 of the reconcile: its controller sees desired ≠ current.
// Then the changes of its pods that waited for it (see hold); one whose Deployment's
// change has not arrived yet is held itself.
func (d *Deriver) ReplicaSet(eventType string, old, rs *appsv1.ReplicaSet) []Step {
	if rs == nil || d.hold("ReplicaSet", eventType, old, rs, rs) {
		return nil
	}
	return d.replicaSetNow(eventType, old, rs)
}

func (d *Deriver) replicaSetNow(eventType string, old, rs *appsv1.ReplicaSet) []Step {
	return append(d.replicaSet(eventType, old, rs), d.saw("ReplicaSet", eventType, rs)...)
}

func (d *Deriver) replicaSet(eventType string, old, rs *appsv1.ReplicaSet) []Step {
	if rs.Spec.Replicas == nil {
		return nil
	}
	key := rs.Namespace + "/" + rs.Name
	rsKey := Key("ReplicaSet", rs.Namespace, rs.Name)
	dep := ownerOf(rs, "Deployment")
	prev, known := d.rss[key]
	desired := *rs.Spec.Replicas
	ev := evidenceOf(eventType, "ReplicaSet", rs.Namespace, rs.Name)
	if eventType == "DELETED" {
		delete(d.rss, key)
		return d.rsGone(rs, dep, known && prev.deleting, ev)
	}
	d.rss[key] = rsState{desired: desired, current: rs.Status.Replicas, deploy: dep, deleting: rs.DeletionTimestamp != nil}
	diff := objectDiff(old, rs)
	base := Step{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, To: APIServer, Style: Write,
		Binds: []string{rsKey}, ResourceVersion: rs.ResourceVersion, Diff: diff}
	if dep != "" {
		base.Owner = "Deployment/" + dep // so the Deployment's page shows its ReplicaSets' steps
	}
	var out []Step
	// write is the learner's write (you, key) or, for a Deployment's ReplicaSet, the
	// deployment controller's (byDep, the Deployment's name first).
	write := func(you, byDep string, args ...any) {
		s := base
		s.Ev = ev(i18n.K("ev.replicas"), desired)
		if dep != "" {
			s.Flow, s.N, s.From, s.StoryKey = FlowDeployment, 2, DeployCtrl, Key("Deployment", rs.Namespace, dep)
			s.say(byDep, append([]any{dep}, args...)...)
		} else {
			s.Flow, s.From, s.StoryKey = FlowYou, Client, rsKey
			s = s.titled(you, args...).root()
		}
		out = append(out, d.mk(s))
	}
	wishChanged := false
	switch {
	case old == nil:
		write(i18n.K("step.you_created_rs"), i18n.K("step.dep_creates_rs"), rs.Name, desired)
		wishChanged = true
	case old.DeletionTimestamp == nil && rs.DeletionTimestamp != nil:
		if dep == "" {
			write(i18n.K("step.you_deleted_rs"), "", rs.Name)
		}
		return out
	case old.Spec.Replicas != nil && *old.Spec.Replicas != desired:
		write(i18n.K("step.you_scaled_rs"), i18n.K("step.dep_scales_rs"), rs.Name, *old.Spec.Replicas, desired)
		wishChanged = true
	}
	has := len(d.owned[key])
	if !wishChanged || has == int(desired) {
		return out
	}
	return append(out, d.mk(Step{Flow: FlowReplicaSet, N: 1, From: APIServer, To: RSCtrl, Style: Watch,
		Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, StoryKey: rsKey,
		Ev:              ev(i18n.K("ev.replicas_status"), desired, rs.Status.Replicas),
		ResourceVersion: rs.ResourceVersion, Diff: diff}.titled(i18n.K("step.rs_sees_diff"), rs.Name, has, desired)))
}

// rsGone: a ReplicaSet was removed, by the learner, by its Deployment (old revisions),
// or by the garbage collector (its Deployment is gone); the garbage collector then sees
// its pods without an owner.
func (d *Deriver) rsGone(rs *appsv1.ReplicaSet, dep string, reported bool, ev evFn) []Step {
	rsKey := Key("ReplicaSet", rs.Namespace, rs.Name)
	base := Step{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, To: APIServer, Style: Write,
		Binds: []string{rsKey}, ResourceVersion: rs.ResourceVersion, Ev: ev(i18n.K("ev.removed"))}
	var out []Step
	ds, depKnown := d.deps[rs.Namespace+"/"+dep]
	switch {
	case dep != "" && (!depKnown || ds.deleting):
		s := base
		s.Flow, s.N, s.From, s.StoryKey = FlowGC, 2, GC, Key("Deployment", rs.Namespace, dep)
		s.say(i18n.K("step.gc_deletes_rs"), rs.Name, dep)
		out = append(out, d.mk(s))
	case dep != "":
		s := base
		s.Flow, s.N, s.From, s.StoryKey = FlowDeployment, 2, DeployCtrl, Key("Deployment", rs.Namespace, dep)
		s.say(i18n.K("step.dep_deletes_rs"), dep, rs.Name)
		out = append(out, d.mk(s))
	case !reported:
		s := base
		s.Flow, s.From, s.StoryKey = FlowYou, Client, rsKey
		s = s.titled(i18n.K("step.you_deleted_rs"), rs.Name).root()
		out = append(out, d.mk(s))
	}
	if n := len(d.owned[rs.Namespace+"/"+rs.Name]); n > 0 {
		out = append(out, d.mk(Step{Flow: FlowGC, N: 1, From: APIServer, To: GC, Style: Watch,
			Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name, StoryKey: rsKey,
			ResourceVersion: rs.ResourceVersion, Ev: ev(i18n.K("ev.rs_dependents"))}.
			titled(i18n.K("step.gc_sees_rs_gone"), rs.Name, n)))
	}
	return out
}

// Deployment derives the learner's writes to a Deployment and its controller seeing them,
// then the changes of its ReplicaSets that waited for it (see hold).
func (d *Deriver) Deployment(eventType string, old, dp *appsv1.Deployment) []Step {
	if dp == nil {
		return nil
	}
	return append(d.deployment(eventType, old, dp), d.saw("Deployment", eventType, dp)...)
}

func (d *Deriver) deployment(eventType string, old, dp *appsv1.Deployment) []Step {
	key := dp.Namespace + "/" + dp.Name
	dKey := Key("Deployment", dp.Namespace, dp.Name)
	prev, known := d.deps[key]
	replicas := int32(1)
	if dp.Spec.Replicas != nil {
		replicas = *dp.Spec.Replicas
	}
	ev := evidenceOf(eventType, "Deployment", dp.Namespace, dp.Name)
	if eventType == "DELETED" {
		delete(d.deps, key)
	} else {
		d.deps[key] = depState{replicas: replicas, generation: dp.Generation, deleting: dp.DeletionTimestamp != nil}
	}
	title, args := "", []any{dp.Name}
	switch {
	case eventType == "DELETED" && !(known && prev.deleting), eventType != "DELETED" && dp.DeletionTimestamp != nil && !(known && prev.deleting):
		title = i18n.K("step.you_deleted_deploy")
	case eventType == "ADDED" || old == nil:
		title = i18n.K("step.you_created_deploy")
	case !apiequality.Semantic.DeepEqual(old.Spec.Template, dp.Spec.Template):
		title = i18n.K("step.rollout")
	case old.Spec.Replicas != nil && *old.Spec.Replicas != replicas:
		title, args = i18n.K("step.you_scaled_deploy"), []any{dp.Name, *old.Spec.Replicas, replicas}
	default:
		return nil
	}
	var oldObj any
	if old != nil {
		oldObj = old
	}
	out := []Step{d.mk(Step{Flow: FlowYou, From: Client, To: APIServer, Style: Write,
		Kind: "Deployment", Namespace: dp.Namespace, Name: dp.Name, StoryKey: dKey, Binds: []string{dKey},
		ResourceVersion: dp.ResourceVersion, Ev: ev(i18n.K("ev.generation"), dp.Generation), Diff: objectDiff(oldObj, dp)}.
		titled(title, args...).root())}
	if title == "step.you_deleted_deploy" {
		return out
	}
	return append(out, d.mk(Step{Flow: FlowDeployment, N: 1, From: APIServer, To: DeployCtrl, Style: Watch,
		Kind: "Deployment", Namespace: dp.Namespace, Name: dp.Name, StoryKey: dKey,
		ResourceVersion: dp.ResourceVersion, Ev: ev(i18n.K("ev.spec_changed"))}.
		titled(i18n.K("step.dep_sees"), dp.Name, dp.Generation)))
}
