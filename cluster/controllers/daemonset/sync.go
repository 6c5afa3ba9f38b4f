package daemonset

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/cluster/controllers/history"
	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
)

// work is what one sync will do: pods to create (by node) and to delete, each with why.
type work struct {
	create map[string]reason // node -> why
	delete []victim
}

type victim struct {
	pod *corev1.Pod
	why reason
}

func owner(ds *appsv1.DaemonSet) history.Owner {
	o := history.Owner{Object: ds, GVK: controllerKind, Selector: ds.Spec.Selector, Labels: ds.Spec.Template.Labels,
		Template: ds.Spec.Template, HistorySize: *ds.Spec.RevisionHistoryLimit}
	if ds.Status.CollisionCount != nil {
		o.Collisions = ptr(*ds.Status.CollisionCount)
	}
	return o
}

func (c *Controller) sync(ctx context.Context, key string, ds *appsv1.DaemonSet, pods []*corev1.Pod, nodes []*corev1.Node) error {
	o := owner(ds)
	revs, err := c.history.Owned(o)
	if err != nil {
		return err
	}
	update, err := c.history.Update(ctx, o, revs)
	if err != nil {
		return fmt.Errorf("revision: %w", err)
	}
	hash := update.Labels[history.HashLabel]
	byNode := map[string][]*corev1.Pod{} // live pods: not terminating, not failed
	var w work
	w.create = map[string]reason{}
	for _, p := range pods {
		switch {
		case p.DeletionTimestamp != nil:
		case p.Status.Phase == corev1.PodFailed:
			w.delete = append(w.delete, victim{p, reason{"it failed; the DaemonSet replaces it", stepper.Say("sets.why_ds_failed")}})
		default:
			byNode[nodeOf(p)] = append(byNode[nodeOf(p)], p)
		}
	}
	var actErr error
	if c.exp.Satisfied(key) {
		c.manage(ds, hash, nodes, byNode, &w)
		if len(w.create)+len(w.delete) == 0 && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
			c.rollingUpdate(ds, hash, nodes, byNode, &w)
		}
		actErr = c.act(ctx, key, ds, hash, w)
	}
	st := c.status(ds, hash, nodes, byNode, o.Collisions)
	if err := c.updateStatus(ctx, ds, st); err != nil {
		return err
	}
	keep := map[string]bool{update.Name: true}
	for _, p := range pods {
		keep[ds.Name+"-"+p.Labels[history.HashLabel]] = true
	}
	if err := c.history.Truncate(ctx, o, revs, keep); err != nil {
		return err
	}
	if actErr == nil && ds.Spec.MinReadySeconds > 0 && st.NumberAvailable < st.NumberReady {
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return actErr
}

// manage gives every node that should run the daemon one pod and takes it away from nodes
// that should not; with maxSurge a node may briefly hold an old and a new pod.
func (c *Controller) manage(ds *appsv1.DaemonSet, hash string, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, w *work) {
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
		run, stay, why := placement(ds, n)
		ps := byNode[n.Name]
		switch {
		case run && len(ps) == 0:
			w.create[n.Name] = reason{fmt.Sprintf("node %s should run it and has no pod of it", n.Name), stepper.Say("sets.why_ds_missing", n.Name)}
		case !stay:
			for _, p := range ps {
				w.delete = append(w.delete, victim{p, reason{fmt.Sprintf("node %s should not run it: %s", n.Name, why.en),
					stepper.Say("sets.why_ds_not_placed", n.Name, why.key)}})
			}
		case len(ps) > 1:
			w.delete = append(w.delete, extras(ds, hash, ps)...)
		}
	}
	for name, ps := range byNode {
		if !known[name] && name != "" {
			for _, p := range ps {
				w.delete = append(w.delete, victim{p, reason{"its node " + name + " is gone", stepper.Say("sets.why_ds_node_gone", name)}})
			}
		}
	}
}

// extras are the pods beyond one per node, oldest kept; while surging, the oldest new pod
// and the oldest old one may both stay (the old one until the new one is available).
func extras(ds *appsv1.DaemonSet, hash string, ps []*corev1.Pod) []victim {
	extra := reason{"a node runs one pod of a DaemonSet; this one is extra", stepper.Say("sets.why_ds_extra")}
	sort.Slice(ps, func(i, j int) bool { return ps[i].CreationTimestamp.Before(&ps[j].CreationTimestamp) })
	keptNew, keptOld := false, false
	var out []victim
	for _, p := range ps {
		isNew := p.Labels[history.HashLabel] == hash
		switch {
		case isNew && !keptNew:
			keptNew = true
		case !isNew && !keptOld && (surge(ds) > 0 || !keptNew):
			keptOld = true
		default:
			out = append(out, victim{p, extra})
		}
	}
	if keptNew && keptOld && surge(ds) == 0 {
		// Without surge the new pod stays and the old one goes.
		for _, p := range ps {
			if p.Labels[history.HashLabel] != hash {
				out = append(out, victim{p, extra})
				break
			}
		}
	}
	return out
}

func surge(ds *appsv1.DaemonSet) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	n, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, 100, true)
	return n
}

// budgets scales maxSurge and maxUnavailable to the number of nodes that should run the
// daemon, rounding up as Kubernetes does.
func budgets(ds *appsv1.DaemonSet, desired int) (maxSurge, maxUnavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return 0, 1
	}
	if ru.MaxSurge != nil {
		maxSurge, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	}
	if ru.MaxUnavailable != nil {
		maxUnavailable, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true)
	}
	if maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable
}

// newAndOld finds a node's new and old pod; ok is false when it has more than one of either.
func newAndOld(ps []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range ps {
		if p.Labels[history.HashLabel] == hash {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// rollingUpdate is kube's: without surge it deletes old pods while fewer than
// maxUnavailable nodes lack an available pod (manage then creates the new ones); with
// surge it starts new pods beside old ones within maxSurge and deletes each old pod once its
// node's new pod is available.
func (c *Controller) rollingUpdate(ds *appsv1.DaemonSet, hash string, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, w *work) {
	desired := 0
	for _, n := range nodes {
		if run, _, _ := placement(ds, n); run {
			desired++
		}
	}
	maxSurge, maxUnavailable := budgets(ds, desired)
	now := c.cfg.Clock.Now()
	var unavailable, surging int
	var replace, candidates []*corev1.Pod
	var surgeNow, surgeCandidates []string
	for _, n := range nodes {
		newPod, oldPod, ok := newAndOld(byNode[n.Name], hash)
		switch {
		case !ok, oldPod == nil && newPod == nil:
			continue
		case maxSurge == 0 && newPod != nil && oldPod != nil:
			unavailable++
		case newPod != nil && oldPod == nil:
			if !available(newPod, ds, now) {
				unavailable++
			}
		case maxSurge == 0 && !available(oldPod, ds, now):
			replace = append(replace, oldPod)
		case maxSurge == 0:
			candidates = append(candidates, oldPod)
		case newPod == nil && !available(oldPod, ds, now):
			surgeNow = append(surgeNow, n.Name)
		case newPod == nil:
			surgeCandidates = append(surgeCandidates, n.Name)
		case !available(newPod, ds, now):
			surging++
		default:
			w.delete = append(w.delete, victim{oldPod, reason{fmt.Sprintf("its replacement %s on node %s is available (rolling update, maxSurge %d)", newPod.Name, n.Name, maxSurge),
				stepper.Say("sets.why_ds_replaced", newPod.Name, n.Name, maxSurge)}})
		}
	}
	if maxSurge == 0 {
		room := max(0, min(maxUnavailable-unavailable, len(candidates)))
		for _, p := range append(replace, candidates[:room]...) {
			w.delete = append(w.delete, victim{p, reason{fmt.Sprintf("it runs an old template; rolling update, %d of maxUnavailable %d nodes already without an available pod", unavailable, maxUnavailable),
				stepper.Say("sets.why_ds_update", unavailable, maxUnavailable)}})
			unavailable++
		}
		return
	}
	room := max(0, min(maxSurge-surging, len(surgeCandidates)))
	for _, n := range append(surgeNow, surgeCandidates[:room]...) {
		w.create[n] = reason{fmt.Sprintf("rolling update: the new pod starts beside the old one on node %s (maxSurge %d)", n, maxSurge),
			stepper.Say("sets.why_ds_surge", n, maxSurge)}
	}
}

// status counts nodes as kube's updateDaemonSetStatus does.
func (c *Controller) status(ds *appsv1.DaemonSet, hash string, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, collisions *int32) appsv1.DaemonSetStatus {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: collisions, Conditions: ds.Status.Conditions}
	now := c.cfg.Clock.Now()
	for _, n := range nodes {
		run, _, _ := placement(ds, n)
		ps := byNode[n.Name]
		if !run {
			if len(ps) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(ps) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		sort.Slice(ps, func(i, j int) bool { return ps[i].CreationTimestamp.Before(&ps[j].CreationTimestamp) })
		if podstatus.Ready(ps[0]) {
			st.NumberReady++
			if available(ps[0], ds, now) {
				st.NumberAvailable++
			}
		}
		if ps[0].Labels[history.HashLabel] == hash {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}

// available: ready for minReadySeconds.
func available(p *corev1.Pod, ds *appsv1.DaemonSet, now time.Time) bool {
	if !podstatus.Ready(p) {
		return false
	}
	since := podstatus.ReadyCondition(p).LastTransitionTime
	return !since.Add(time.Duration(ds.Spec.MinReadySeconds) * time.Second).After(now)
}

func ptr[T any](v T) *T { return &v }
