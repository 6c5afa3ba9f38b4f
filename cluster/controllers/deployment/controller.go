// Package deployment is webkube's deployment-controller: it rolls a Deployment's pod
// template out through ReplicaSets (RollingUpdate within maxSurge/maxUnavailable, or
// Recreate), keeps revisions and change-causes for `kubectl rollout history`, reuses the
// matching old ReplicaSet on `kubectl rollout undo`, scales proportionally when resized
// mid-rollout, cleans up beyond revisionHistoryLimit, honours paused, and reports the
// Progressing/Available conditions and status fields `kubectl rollout status` reads.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/ownerref"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name on this controller's Events.
const Component = "deployment-controller"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int                  // default 5
	Recorder  record.EventRecorder // tests
}

// Controller reconciles Deployments.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	dLister  appslisters.DeploymentLister
	rsLister appslisters.ReplicaSetLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("deployment: Client is required")
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
		cfg.Workers = 5
	}
	dInf := cfg.Informers.Apps().V1().Deployments()
	rsInf := cfg.Informers.Apps().V1().ReplicaSets()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		cfg: cfg, client: cfg.Client,
		dLister: dInf.Lister(), rsLister: rsInf.Lister(), pods: podInf.Lister(),
		synced: []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment", Clock: cfg.Clock}),
		recorder: cfg.Recorder,
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("deployment: handler: %w", err)
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onRS,
		UpdateFunc: func(old, cur any) { c.onRS(old); c.onRS(cur) },
		DeleteFunc: c.onRS,
	}); err != nil {
		return nil, fmt.Errorf("deployment: handler: %w", err)
	}
	// Recreate waits for old pods to be gone; their deletion moves it on.
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.onPodDelete,
	}); err != nil {
		return nil, fmt.Errorf("deployment: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.client, Component)
	}
	return worker.Loop[string]{Name: "deployment", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

func (c *Controller) onRS(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if ref.Kind == controllerKind.Kind {
			c.queue.Add(rs.Namespace + "/" + ref.Name)
		}
		return
	}
	// An orphan: every deployment that selects it may want to adopt it.
	ds, _ := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	for _, d := range ds {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
			c.queue.Add(d.Namespace + "/" + d.Name)
		}
	}
}

func (c *Controller) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == controllerKind.Kind {
		d, err := c.dLister.Deployments(pod.Namespace).Get(dref.Name)
		if err == nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			c.queue.Add(d.Namespace + "/" + d.Name)
		}
	}
}

// Sync reconciles one Deployment, by namespace/name key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	if d.Spec.Replicas == nil {
		one := int32(1)
		d.Spec.Replicas = &one
	}
	if reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) || d.Spec.Selector == nil {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, err := c.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return err
		}
		return nil
	}
	rsList, err := c.replicaSetsFor(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, oldRSs, err := c.getAllReplicaSets(ctx, d, rsList, false)
		if err != nil {
			return err
		}
		return c.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS, d)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.sync(ctx, d, rsList)
	}
	scaling, err := c.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return err
	}
	if scaling {
		return c.sync(ctx, d, rsList)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return c.rolloutRecreate(ctx, d, rsList)
	}
	return c.rolloutRolling(ctx, d, rsList)
}

// replicaSetsFor claims the ReplicaSets this deployment owns, adopting and releasing.
func (c *Controller) replicaSetsFor(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s selector: %w", d.Name, err)
	}
	m := &ownerref.Manager{
		Owner: d, OwnerGVK: controllerKind, Selector: sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: ownerref.RecheckOwner(d, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		}),
	}
	return ownerref.Claim(ctx, m, all)
}

// isScalingEvent is true when only spec.replicas changed since the active ReplicaSets were
// last sized (their desired-replicas annotation differs).
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range activeRSs(append(oldRSs, newRS)) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != *d.Spec.Replicas {
			return true, nil
		}
	}
	return false, nil
}

func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if d.Spec.ProgressDeadlineSeconds == nil {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == ReasonTimedOut {
		return nil
	}
	pausedCond := cond != nil && cond.Reason == ReasonPaused
	now := c.cfg.Clock.Now()
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *updated.DeepCopy()
	return nil
}

// scaleReplicaSet sets rs to newScale and records the deployment's size on it.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	cp := rs.DeepCopy()
	sizeChanged := replicas(cp) != newScale
	annChanged := setReplicasAnnotations(cp, *d.Spec.Replicas, *d.Spec.Replicas+maxSurge(d))
	if !sizeChanged && !annChanged {
		return false, rs, nil
	}
	op := "up"
	if newScale < replicas(rs) {
		op = "down"
	}
	old := replicas(rs)
	if sizeChanged {
		if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "scale-replicaset", Kind: "ReplicaSet",
			Namespace: rs.Namespace, Name: rs.Name,
			Message: fmt.Sprintf("scaling %s replica set %s from %d to %d", op, rs.Name, old, newScale),
			Says:    stepper.Say("held.dep_scales_rs", rs.Name, old, newScale)}); err != nil {
			return false, nil, err
		}
	}
	cp.Spec.Replicas = &newScale
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, nil, err
	}
	if sizeChanged {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, old, newScale)
	}
	return sizeChanged, updated, nil
}

func (c *Controller) requeueAfter(d *appsv1.Deployment, after time.Duration) {
	c.queue.AddAfter(d.Namespace+"/"+d.Name, after)
}
