package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/internal/podstatus"
)

// policy/v1: PodDisruptionBudgets, kept by the disruption controller, and the Eviction a
// client posts to pods/eviction (kubectl drain), which deletes a pod only when its budget
// allows one more disruption.

var policyV1 = policyv1.SchemeGroupVersion

var policyResources = []*resource{
	{gvr: policyV1.WithResource("poddisruptionbudgets"), kind: "PodDisruptionBudget", singular: "poddisruptionbudget", namespaced: true,
		shortNames: []string{"pdb"}, subresources: []string{"status"}, hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &policyv1.PodDisruptionBudget{} }, newList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} }},
}

var evictionGVK = policyV1.WithKind("Eviction")

func init() {
	resourceTable = append(resourceTable, policyResources...)
	groupVersions = append(groupVersions, policyV1)
	findResource(coreV1, "pods").subresources = append(findResource(coreV1, "pods").subresources, "eviction")
}

// serveEviction is kube-apiserver's EvictionREST: a pod without a budget (or that is
// not running yet, finished, or already going) is deleted; a pod under exactly one budget
// is deleted only if the budget allows a disruption, which the eviction takes (status
// disruptionsAllowed-1 and the pod in disruptedPods, written with compare-and-swap, so
// two evictions cannot spend one disruption); otherwise 429, which kubectl drain retries.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, t target) error {
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	var ev policyv1.Eviction
	if err := decodeStrict(evictionGVK, data, &ev, opts); err != nil {
		return err
	}
	if ev.Name != "" && ev.Name != t.name {
		return badRequest(fmt.Sprintf("name in URL (%s) does not match name in Eviction object (%s)", t.name, ev.Name))
	}
	ctx := r.Context()
	obj, _, err := s.getObject(ctx, t.res, t.namespace, t.name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	delOpts := metav1.DeleteOptions{}
	if ev.DeleteOptions != nil {
		delOpts = *ev.DeleteOptions
	}
	dryRun := len(delOpts.DryRun) > 0
	if !ignoresBudgets(pod) {
		if err := s.takeDisruption(ctx, pod, dryRun); err != nil {
			return err
		}
	}
	if !dryRun {
		if _, err := s.delete(ctx, t.res, t.namespace, t.name, delOpts); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated,
	})
	return nil
}

// ignoresBudgets: a pod that is not running (pending, finished) or already being deleted
// disrupts nothing more (kube's canIgnorePDB).
func ignoresBudgets(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// takeDisruption spends one disruption of the pod's budget, if it has one.
func (s *Server) takeDisruption(ctx context.Context, pod *corev1.Pod, dryRun bool) error {
	r := resourceFor(policyV1.WithResource("poddisruptionbudgets").GroupResource())
	objs, _, err := s.list(ctx, r, pod.Namespace, selectors{label: labels.Everything(), field: fields.Everything()}, url.Values{})
	if err != nil {
		return err
	}
	var pdbs []*policyv1.PodDisruptionBudget
	for _, o := range objs {
		pdb := o.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		pdbs = append(pdbs, pdb)
	}
	switch len(pdbs) {
	case 0:
		return nil
	case 1:
	default:
		return apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	_, err = s.update(ctx, r, pod.Namespace, pdbs[0].Name, "status", dryRun, func(cur runtime.Object) (runtime.Object, error) {
		pdb := cur.(*policyv1.PodDisruptionBudget)
		if err := mayDisrupt(pdb, pod); err != nil {
			return nil, err
		}
		if !podstatus.Ready(pod) && unhealthyMayGo(pdb) {
			return pdb, nil // an unready pod is no loss to a budget that is met
		}
		pdb.Status.DisruptionsAllowed--
		if pdb.Status.DisruptedPods == nil {
			pdb.Status.DisruptedPods = map[string]metav1.Time{}
		}
		pdb.Status.DisruptedPods[pod.Name] = metav1.NewTime(s.clock.Now().Truncate(time.Second))
		return pdb, nil
	})
	return err
}

// mayDisrupt is kube's checkAndDecrement before it decrements, with its errors.
func mayDisrupt(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) error {
	const refused = "Cannot evict pod as it would violate the pod's disruption budget."
	if pdb.Status.ObservedGeneration < pdb.Generation {
		err := apierrors.NewTooManyRequests(refused, 10)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name)})
		return err
	}
	if !podstatus.Ready(pod) && unhealthyMayGo(pdb) {
		return nil
	}
	if pdb.Status.DisruptionsAllowed < 0 {
		return apierrors.NewForbidden(policyV1.WithResource("poddisruptionbudget").GroupResource(), pdb.Name, fmt.Errorf("pdb disruptions allowed is negative"))
	}
	if pdb.Status.DisruptionsAllowed == 0 {
		err := apierrors.NewTooManyRequests(refused, 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy)})
		return err
	}
	return nil
}

// unhealthyMayGo: an unready pod may be evicted without spending a disruption when the
// policy says AlwaysAllow, or (IfHealthyBudget, the default) the budget is met.
func unhealthyMayGo(pdb *policyv1.PodDisruptionBudget) bool {
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}
