package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/stepper"
)

// getAllReplicaSets splits the owned ReplicaSets into the new one (template equal to the
// deployment's, ignoring pod-template-hash) and the old ones, bringing the new one's
// revision to max(old)+1 — which is how `rollout undo` gives a reused ReplicaSet a new
// revision. With create, a missing new ReplicaSet is created.
func (c *Controller) getAllReplicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	byCreation(sorted)
	var existing *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if existing == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			existing = rs
			continue
		}
		old = append(old, rs)
	}
	newRS, err := c.getNewReplicaSet(ctx, d, existing, old, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, old, nil
}

// getNewReplicaSet returns the ReplicaSet of the Deployment's current template: the
// existing one brought up to date, or (when create is set) a new one, as
// kube-controller-manager's deployment controller does.
func (c *Controller) getNewReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := strconv.FormatInt(maxRevision(old)+1, 10)
	if existing != nil {
		return c.syncExistingNewRS(ctx, d, existing, newRevision)
	}
	if !create {
		return nil, nil
	}
	newRS := newReplicaSetFor(d, newRevision)
	n := newRSNewReplicas(d, append(append([]*appsv1.ReplicaSet(nil), old...), newRS), newRS)
	newRS.Spec.Replicas = &n
	setNewRSAnnotations(d, newRS, newRevision, false)
	if n > 0 {
		if err := c.cfg.Gate.Wait(ctx, step("scale-replicaset", newRS, fmt.Sprintf("creating replica set %s with %d pods", newRS.Name, n),
			stepper.Say("held.dep_creates_rs", newRS.Name, n))); err != nil {
			return nil, err
		}
	}
	created, alreadyExists, err := c.createNewRS(ctx, d, newRS)
	if err != nil {
		return nil, err
	}
	if !alreadyExists && n > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	if err := c.setDeploymentRevision(ctx, d, newRevision); err != nil {
		return nil, err
	}
	if !alreadyExists && d.Spec.ProgressDeadlineSeconds != nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), c.cfg.Clock.Now()))
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// syncExistingNewRS brings the existing new ReplicaSet's annotations and minReadySeconds
// up to date with its Deployment, and the Deployment's revision and Progressing
// condition up to date with it.
func (c *Controller) syncExistingNewRS(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, newRevision string) (*appsv1.ReplicaSet, error) {
	cp := existing.DeepCopy()
	annChanged := setNewRSAnnotations(d, cp, newRevision, true)
	if annChanged || cp.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		cp.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		return c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	}
	if err := c.setDeploymentRevision(ctx, d, cp.Annotations[RevisionAnnotation]); err != nil {
		return nil, err
	}
	if d.Spec.ProgressDeadlineSeconds != nil && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
			fmt.Sprintf("Found new replica set %q", cp.Name), c.cfg.Clock.Now()))
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// newReplicaSetFor builds (without replicas) the ReplicaSet of d's current template: named
// and selected by the template's hash, controlled by d.
func newReplicaSetFor(d *appsv1.Deployment, newRevision string) *appsv1.ReplicaSet {
	tmpl := *d.Spec.Template.DeepCopy()
	hash := ComputeHash(&tmpl, d.Status.CollisionCount)
	tmpl.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	t := true
	zero := int32(0)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: d.Name, UID: d.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
}

// createNewRS creates newRS. If its name is taken by d's own ReplicaSet of the same
// template (a create whose answer was lost), that one is returned with alreadyExists set;
// if by another template (a hash collision), d's collisionCount is bumped so the next
// attempt hashes to a new name.
func (c *Controller) createNewRS(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet) (created *appsv1.ReplicaSet, alreadyExists bool, err error) {
	created, err = c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, newRS, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		rs, gerr := c.rsLister.ReplicaSets(d.Namespace).Get(newRS.Name)
		if gerr != nil {
			return nil, false, err
		}
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			return rs, true, nil
		}
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if uerr := c.updateStatus(ctx, d); uerr != nil {
			return nil, false, uerr
		}
		return nil, false, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", newRS.Name, err)
		if d.Spec.ProgressDeadlineSeconds != nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, c.cfg.Clock.Now()))
			_ = c.updateStatus(ctx, d)
		}
		c.recorder.Event(d, corev1.EventTypeWarning, ReasonFailedRSCreate, msg)
		return nil, false, err
	}
	return created, false, nil
}

func withLabel(in map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for a, b := range in {
		out[a] = b
	}
	out[k] = v
	return out
}

// setDeploymentRevision records the new ReplicaSet's revision on the Deployment, where
// `kubectl rollout history` and `describe` read it.
func (c *Controller) setDeploymentRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if d.Annotations[RevisionAnnotation] == rev {
		return nil
	}
	cp := d.DeepCopy()
	if cp.Annotations == nil {
		cp.Annotations = map[string]string{}
	}
	cp.Annotations[RevisionAnnotation] = rev
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	// Carry on with the stored object (new resourceVersion) but our defaulted replicas.
	r := d.Spec.Replicas
	*d = *updated.DeepCopy()
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = r
	}
	return nil
}

func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	r := d.Spec.Replicas
	*d = *updated.DeepCopy()
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = r
	}
	return nil
}

// sync handles scaling and paused deployments: sizes change, templates do not roll.
func (c *Controller) sync(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, oldRSs); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, oldRSs); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
}

// scale resizes the ReplicaSets after the deployment's replicas changed: the only active
// one takes it all; otherwise a rolling deployment spreads the change proportionally, so
// a resize in mid-rollout neither speeds up nor slows down the rollout.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	if target := activeOrLatest(newRS, oldRSs); target != nil {
		if replicas(target) == *d.Spec.Replicas {
			return nil
		}
		_, _, err := c.scaleReplicaSet(ctx, target, *d.Spec.Replicas, d)
		return err
	}
	if saturated(d, newRS) {
		for _, old := range activeRSs(oldRSs) {
			if _, _, err := c.scaleReplicaSet(ctx, old, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := activeRSs(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	allowed := int32(0)
	if *d.Spec.Replicas > 0 {
		allowed = *d.Spec.Replicas + maxSurge(d)
	}
	toAdd := allowed - specSum(all)
	switch {
	case toAdd > 0:
		bySize(all, true)
	case toAdd < 0:
		bySize(all, false)
	}
	added := int32(0)
	size := map[string]int32{}
	for _, rs := range all {
		p := int32(0)
		if toAdd != 0 {
			p = proportion(rs, d, toAdd, added)
		}
		size[rs.Name] = replicas(rs) + p
		added += p
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			size[rs.Name] = max(0, size[rs.Name]+toAdd-added)
		}
		if _, _, err := c.scaleReplicaSet(ctx, rs, size[rs.Name], d); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest is the only ReplicaSet with pods, or the newest if none has any; nil
// when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	byCreation(olds)
	for i, j := 0, len(olds)-1; i < j; i, j = i+1, j-1 {
		olds[i], olds[j] = olds[j], olds[i]
	}
	active := activeRSs(append(append([]*appsv1.ReplicaSet(nil), olds...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[0]
	case 1:
		return active[0]
	}
	return nil
}

func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && desired == *d.Spec.Replicas && replicas(rs) == *d.Spec.Replicas &&
		rs.Status.AvailableReplicas == *d.Spec.Replicas
}

// cleanup deletes the oldest empty ReplicaSets beyond revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		ri, rj := revision(alive[i]), revision(alive[j])
		if ri == rj {
			return alive[i].CreationTimestamp.Before(&alive[j].CreationTimestamp)
		}
		return ri < rj
	})
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (c *Controller) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) appsv1.DeploymentStatus {
	available := statusSum(all, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	unavailable := max(0, specSum(all)-available)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusSum(all, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		UpdatedReplicas:     statusSum([]*appsv1.ReplicaSet{newRS}, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		ReadyReplicas:       statusSum(all, func(s appsv1.ReplicaSetStatus) int32 { return s.ReadyReplicas }),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
	}
	for _, cond := range d.Status.Conditions {
		st.Conditions = append(st.Conditions, *cond.DeepCopy())
	}
	now := c.cfg.Clock.Now()
	if available >= *d.Spec.Replicas-maxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

func (c *Controller) syncDeploymentStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(all, newRS, d)
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	return st.UpdatedReplicas == *d.Spec.Replicas && st.Replicas == *d.Spec.Replicas &&
		st.AvailableReplicas == *d.Spec.Replicas && st.ObservedGeneration >= d.Generation
}

func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

func (c *Controller) timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	if d.Spec.ProgressDeadlineSeconds == nil {
		return false
	}
	cond := getCondition(*st, appsv1.DeploymentProgressing)
	if cond == nil || cond.Reason == ReasonNewRSAvailable {
		return false
	}
	if cond.Reason == ReasonTimedOut {
		return true
	}
	deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(c.cfg.Clock.Now())
}

// syncRolloutStatus writes status plus the Progressing condition: complete, still
// making progress, or past its progressDeadlineSeconds.
func (c *Controller) syncRolloutStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(all, newRS, d)
	if d.Spec.ProgressDeadlineSeconds == nil {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	now := c.cfg.Clock.Now()
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if d.Spec.ProgressDeadlineSeconds != nil && !done {
		what := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			what = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case complete(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, what+" has successfully progressed.", now))
		case progressing(d, &st):
			cond := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, what+" is progressing.", now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				cond.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, cond)
		case c.timedOut(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, what+" has timed out progressing.", now))
		}
	}
	// Surface a ReplicaSet's failure to create pods on the Deployment.
	var failure *appsv1.DeploymentCondition
	for _, rs := range all {
		if rs == nil {
			continue
		}
		for _, rc := range rs.Status.Conditions {
			if rc.Type == appsv1.ReplicaSetReplicaFailure && failure == nil {
				failure = &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: rc.Status,
					Reason: rc.Reason, Message: rc.Message, LastUpdateTime: rc.LastTransitionTime, LastTransitionTime: rc.LastTransitionTime}
			}
		}
	}
	if failure != nil {
		setCondition(&st, *failure)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		c.requeueStuck(d, &st)
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// requeueStuck looks at an unfinished rollout again when its deadline passes, since no
// event will arrive to say that nothing happened.
func (c *Controller) requeueStuck(d *appsv1.Deployment, st *appsv1.DeploymentStatus) {
	cond := getCondition(*st, appsv1.DeploymentProgressing)
	if d.Spec.ProgressDeadlineSeconds == nil || cond == nil || complete(d, st) || cond.Reason == ReasonTimedOut {
		return
	}
	after := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(c.cfg.Clock.Now())
	if after < time.Second {
		after = time.Second
	}
	c.requeueAfter(d, after)
}
