package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Refusals Undo gives before changing anything; the dashboard words them for the learner.
var (
	ErrPaused      = errors.New("you cannot rollback a paused deployment; resume it first and try again")
	ErrNoHistory   = errors.New("no rollout history found")
	ErrNoRevision  = errors.New("unable to find the specified revision")
	ErrBadRevision = errors.New("revision must be 0 (the previous one) or more")
)

// Outcome is what Undo did.
type Outcome struct {
	Revision int64 // the revision whose template was restored
	Skipped  bool  // the Deployment already runs that template: nothing was sent
}

// skipAnnotations stay as the Deployment has them; every other annotation of the chosen
// ReplicaSet (change-cause among them) is copied back, as kubectl does.
var skipAnnotations = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
}

// Undo is `kubectl rollout undo deployment/name [--to-revision=N]`: it finds the
// ReplicaSet of that revision (0: the one before the newest) among those the Deployment
// controls, and copies its pod template, minus pod-template-hash, and its annotations
// into the Deployment with one JSON patch. The deployment controller then rolls out to
// it, giving that ReplicaSet the next revision number.
func Undo(ctx context.Context, c kubernetes.Interface, ns, name string, toRevision int64, fieldManager string) (Outcome, error) {
	if toRevision < 0 {
		return Outcome{}, ErrBadRevision
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Outcome{}, err
	}
	list, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return Outcome{}, err
	}
	all := make([]*appsv1.ReplicaSet, len(list.Items))
	for i := range list.Items {
		all[i] = &list.Items[i]
	}
	rs, err := pick(Owned(d, all), toRevision)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Revision: revisionOf(rs.Annotations)}
	if d.Spec.Paused {
		return out, ErrPaused
	}
	if EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
		out.Skipped = true
		return out, nil
	}
	patch, err := undoPatch(d, rs)
	if err != nil {
		return out, err
	}
	// The API's own error, unwrapped: the dashboard shows its message as it is.
	_, err = c.AppsV1().Deployments(ns).Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	return out, err
}

// pick finds revision n, or for 0 the second newest revision.
func pick(owned []*appsv1.ReplicaSet, n int64) (*appsv1.ReplicaSet, error) {
	var latest, previous *appsv1.ReplicaSet
	for _, rs := range owned { // oldest revision first
		r := revisionOf(rs.Annotations)
		if r <= 0 {
			continue
		}
		if n > 0 && r == n {
			return rs, nil
		}
		previous, latest = latest, rs
	}
	switch {
	case n > 0:
		return nil, fmt.Errorf("%w: %d", ErrNoRevision, n)
	case previous == nil:
		return nil, ErrNoHistory
	}
	return previous, nil
}

func undoPatch(d *appsv1.Deployment, rs *appsv1.ReplicaSet) ([]byte, error) {
	tmpl := withoutHash(&rs.Spec.Template)
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if skipAnnotations[k] {
			ann[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !skipAnnotations[k] {
			ann[k] = v
		}
	}
	return json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": tmpl},
		{"op": "replace", "path": "/metadata/annotations", "value": ann},
	})
}

// SetPaused is `kubectl rollout pause` (true) or `resume` (false): spec.paused, which
// makes the deployment controller stop (or start again) rolling out template changes;
// scaling still happens. It reports false when the Deployment already was so.
func SetPaused(ctx context.Context, c kubernetes.Interface, ns, name string, paused bool, fieldManager string) (bool, error) {
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if d.Spec.Paused == paused {
		return false, nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"paused":%t}}`, paused))
	if _, err := c.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return false, err
	}
	return true, nil
}
