// Package disruption is kube-controller-manager's disruption controller: it keeps each
// PodDisruptionBudget's status (expectedPods, desiredHealthy, currentHealthy,
// disruptionsAllowed and the DisruptionAllowed condition), which the API server's
// eviction reads to allow or refuse evicting a pod (kubectl drain).
package disruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
)

// Component is the name this controller announces its steps with.
const Component = "disruption-controller"

// DeletionTimeout is how long an evicted pod counts as disrupted (not healthy) while the
// controller waits to see it go, as kube's.
const DeletionTimeout = 2 * time.Minute

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int // default 2
}

// Controller keeps PodDisruptionBudget status.
type Controller struct {
	cfg         Config
	pdbs        policylisters.PodDisruptionBudgetLister
	pods        corelisters.PodLister
	replicaSets appslisters.ReplicaSetLister
	deployments appslisters.DeploymentLister
	statefulSet appslisters.StatefulSetLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string] // pdb ns/name
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("disruption: Client is required")
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", Component)
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	f := cfg.Informers
	c := &Controller{cfg: cfg, pdbs: f.Policy().V1().PodDisruptionBudgets().Lister(), pods: f.Core().V1().Pods().Lister(),
		replicaSets: f.Apps().V1().ReplicaSets().Lister(), deployments: f.Apps().V1().Deployments().Lister(),
		statefulSet: f.Apps().V1().StatefulSets().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption", Clock: cfg.Clock}),
	}
	for _, inf := range []cache.SharedIndexInformer{f.Policy().V1().PodDisruptionBudgets().Informer(), f.Core().V1().Pods().Informer(),
		f.Apps().V1().ReplicaSets().Informer(), f.Apps().V1().Deployments().Informer(), f.Apps().V1().StatefulSets().Informer()} {
		c.synced = append(c.synced, inf.HasSynced)
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		fn  func(any)
	}{
		{f.Policy().V1().PodDisruptionBudgets().Informer(), c.enqueue},
		// Any change to a pod or a scale may change a budget of its namespace.
		{f.Core().V1().Pods().Informer(), c.namespaceChanged},
		{f.Apps().V1().ReplicaSets().Informer(), c.namespaceChanged},
		{f.Apps().V1().Deployments().Informer(), c.namespaceChanged},
		{f.Apps().V1().StatefulSets().Informer(), c.namespaceChanged},
	}
	for _, h := range handlers {
		fn := h.fn
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: fn,
			UpdateFunc: func(_, o any) { fn(o) }, DeleteFunc: fn}); err != nil {
			return nil, fmt.Errorf("disruption: handler: %w", err)
		}
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) namespaceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	pdbs, _ := c.pdbs.PodDisruptionBudgets(m.GetNamespace()).List(labels.Everything())
	for _, pdb := range pdbs {
		c.enqueue(pdb)
	}
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	return worker.Loop[string]{Name: "disruption", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// Sync recomputes budget key (ns/name) and writes its status if it changed.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	status, recheck := c.compute(pdb)
	if recheck > 0 {
		c.queue.AddAfter(key, recheck)
	}
	if apiequality.Semantic.DeepEqual(status, pdb.Status) {
		return nil
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "update-pdb-status", Kind: "PodDisruptionBudget",
		Namespace: ns, Name: name,
		Message: fmt.Sprintf("PodDisruptionBudget %s: %d healthy of %d wanted, %d disruptions allowed", name, status.CurrentHealthy, status.DesiredHealthy, status.DisruptionsAllowed),
		Says:    stepper.Say("adm.pdb_counts", name, status.CurrentHealthy, status.DesiredHealthy, status.DisruptionsAllowed),
		Why:     "an eviction (kubectl drain) may delete a pod of the budget only while disruptions are allowed",
		Because: stepper.Say("adm.why_pdb")}); err != nil {
		return err
	}
	pdb = pdb.DeepCopy()
	pdb.Status = status
	_, err = c.cfg.Client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
	return err
}

// compute is kube's trySync: the budget's pods, how many should be healthy, how many
// are, and what that leaves. recheck > 0 asks to look again when a disrupted pod's
// entry expires.
func (c *Controller) compute(pdb *policyv1.PodDisruptionBudget) (policyv1.PodDisruptionBudgetStatus, time.Duration) {
	st := policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation}
	pods, err := c.podsOf(pdb)
	var expected, desired int32
	if err == nil {
		expected, desired, err = c.wanted(pdb, pods)
	}
	now := c.cfg.Clock.Now()
	disrupted, recheck := c.stillDisrupted(pdb, pods, now)
	healthy := int32(0)
	for _, p := range pods {
		if _, evicted := disrupted[p.Name]; p.DeletionTimestamp == nil && podstatus.Ready(p) && !evicted {
			healthy++
		}
	}
	st.DisruptedPods = disrupted
	st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods = healthy, desired, expected
	if err == nil && healthy > desired {
		st.DisruptionsAllowed = healthy - desired
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue, Reason: policyv1.SufficientPodsReason,
		ObservedGeneration: pdb.Generation, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	switch {
	case err != nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, policyv1.SyncFailedReason, err.Error()
	case st.DisruptionsAllowed == 0:
		cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	for _, old := range pdb.Status.Conditions {
		if old.Type == cond.Type && old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message {
			cond.LastTransitionTime = old.LastTransitionTime
		}
	}
	st.Conditions = []metav1.Condition{cond}
	return st, recheck
}

func (c *Controller) podsOf(pdb *policyv1.PodDisruptionBudget) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, err
	}
	if sel.Empty() {
		return nil, nil // as kube's controller and eviction: an empty selector selects no pod
	}
	return c.pods.Pods(pdb.Namespace).List(sel)
}

// wanted gives expectedPods and desiredHealthy: an integer minAvailable counts the pods
// themselves; a percentage or maxUnavailable is of the pods' controllers' scale.
func (c *Controller) wanted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, err error) {
	if m := pdb.Spec.MinAvailable; m != nil && m.Type == intstr.Int {
		return int32(len(pods)), m.IntVal, nil
	}
	expected, err = c.scale(pods)
	if err != nil {
		return 0, 0, err
	}
	if m := pdb.Spec.MinAvailable; m != nil {
		n, err := intstr.GetScaledValueFromIntOrPercent(m, int(expected), true)
		return expected, int32(n), err
	}
	if m := pdb.Spec.MaxUnavailable; m != nil {
		n, err := intstr.GetScaledValueFromIntOrPercent(m, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(math.Max(0, float64(expected)-float64(n))), nil
	}
	return int32(len(pods)), 0, nil
}
