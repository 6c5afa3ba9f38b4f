// Package daemonset is webkube's daemonset-controller: each DaemonSet runs one pod on every
// node that should run it (its nodeSelector and node affinity select the node, and its
// tolerations, with the ones Kubernetes adds to every daemon pod, cover the node's taints,
// so cordoned nodes get one too). Each pod is pinned to its node by node affinity and bound
// by the scheduler, as in Kubernetes. Templates are kept as ControllerRevisions; a rolling
// update replaces pods node by node within maxUnavailable, or starts the new pod first
// within maxSurge; OnDelete waits for the user to delete them.
package daemonset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	"webkube/cluster/controllers/expectations"
	"webkube/cluster/controllers/history"
	"webkube/cluster/controllers/ownerref"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name on this controller's Events.
const Component = "daemonset-controller"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int                  // default 2
	Recorder  record.EventRecorder // tests
}

// Controller reconciles DaemonSets.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	sets     appslisters.DaemonSetLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	history  history.Store
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations.Expectations
	owners   ownerref.Owners[*appsv1.DaemonSet]
	recorder record.EventRecorder
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("daemonset: Client is required")
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
	dsInf := cfg.Informers.Apps().V1().DaemonSets()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	c := &Controller{
		cfg: cfg, client: cfg.Client,
		sets: dsInf.Lister(), pods: podInf.Lister(), nodes: nodeInf.Lister(),
		history: history.Store{Client: cfg.Client, Lister: revInf.Lister()},
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset", Clock: cfg.Clock}),
		exp:      expectations.New(cfg.Clock),
		recorder: cfg.Recorder,
	}
	c.owners = ownerref.Owners[*appsv1.DaemonSet]{Kind: controllerKind.Kind, Get: func(ns, name string) (*appsv1.DaemonSet, error) { return c.sets.DaemonSets(ns).Get(name) },
		List:     func(ns string) ([]*appsv1.DaemonSet, error) { return c.sets.DaemonSets(ns).List(labels.Everything()) },
		Selector: func(o *appsv1.DaemonSet) *metav1.LabelSelector { return o.Spec.Selector }, Queue: c.queue, Exp: c.exp}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueue, UpdateFunc: func(_, obj any) { c.enqueue(obj) },
			DeleteFunc: func(obj any) {
				if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
					c.exp.Delete(key)
					c.queue.Add(key)
				}
			}}},
		{podInf.Informer(), c.owners.PodHandlers()},
		// Any node change may change where daemons should run: look at every DaemonSet.
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.enqueueAll, UpdateFunc: func(old, cur any) { c.nodeUpdated(old, cur) }, DeleteFunc: c.enqueueAll}},
		{revInf.Informer(), c.owners.Handlers()},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("daemonset: handler: %w", err)
		}
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.client, Component)
	}
	return worker.Loop[string]{Name: "daemonset", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAll(any) {
	all, err := c.sets.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.queue.Add(dsKey(ds))
	}
}

// nodeUpdated ignores heartbeats: only labels, taints, cordon and readiness matter.
func (c *Controller) nodeUpdated(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Node), curObj.(*corev1.Node)
	if labels.Equals(old.Labels, cur.Labels) && old.Spec.Unschedulable == cur.Spec.Unschedulable &&
		taintsEqual(old.Spec.Taints, cur.Spec.Taints) && nodeReady(old) == nodeReady(cur) {
		return
	}
	c.enqueueAll(cur)
}

func taintsEqual(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect {
			return false
		}
	}
	return true
}

func dsKey(ds *appsv1.DaemonSet) string { return ds.Namespace + "/" + ds.Name }

// Sync reconciles one DaemonSet, by namespace/name key, from the cached state.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil // the API server refuses these
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	m := &ownerref.Manager{
		Owner: ds, OwnerGVK: controllerKind, Selector: selector,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: ownerref.RecheckOwner(ds, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		}),
	}
	pods, err := ownerref.Claim(ctx, m, all)
	if err != nil {
		return err
	}
	if ds.DeletionTimestamp != nil {
		return nil // the garbage collector deletes its pods
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	return c.sync(ctx, key, ds, pods, nodes)
}
