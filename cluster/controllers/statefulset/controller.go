// Package statefulset is webkube's statefulset-controller. Each StatefulSet gets pods with
// stable names (<set>-0, <set>-1, …), each its own hostname in the set's headless Service
// (<pod>.<serviceName>), created in ordinal order and deleted in reverse, one at a time
// waiting for readiness (OrderedReady) or all at once (Parallel), as Kubernetes does. Pod
// templates are kept as ControllerRevisions; a rolling update replaces pods from the highest
// ordinal down to the partition, one at a time; OnDelete waits for the user to delete them.
package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

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
const Component = "statefulset-controller"

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

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

// Controller reconciles StatefulSets.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	sets     appslisters.StatefulSetLister
	pods     corelisters.PodLister
	claims   corelisters.PersistentVolumeClaimLister
	history  history.Store
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations.Expectations
	owners   ownerref.Owners[*appsv1.StatefulSet]
	recorder record.EventRecorder
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("statefulset: Client is required")
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
	setInf := cfg.Informers.Apps().V1().StatefulSets()
	podInf := cfg.Informers.Core().V1().Pods()
	revInf := cfg.Informers.Apps().V1().ControllerRevisions()
	claimInf := cfg.Informers.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		cfg: cfg, client: cfg.Client,
		sets: setInf.Lister(), pods: podInf.Lister(), claims: claimInf.Lister(),
		history: history.Store{Client: cfg.Client, Lister: revInf.Lister()},
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced, revInf.Informer().HasSynced,
			claimInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset", Clock: cfg.Clock}),
		exp:      expectations.New(cfg.Clock),
		recorder: cfg.Recorder,
	}
	c.owners = ownerref.Owners[*appsv1.StatefulSet]{Kind: controllerKind.Kind, Get: func(ns, name string) (*appsv1.StatefulSet, error) { return c.sets.StatefulSets(ns).Get(name) },
		List: func(ns string) ([]*appsv1.StatefulSet, error) {
			return c.sets.StatefulSets(ns).List(labels.Everything())
		},
		Selector: func(o *appsv1.StatefulSet) *metav1.LabelSelector { return o.Spec.Selector }, Queue: c.queue, Exp: c.exp}
	if _, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.exp.Delete(key)
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("statefulset: handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(c.owners.PodHandlers()); err != nil {
		return nil, fmt.Errorf("statefulset: handler: %w", err)
	}
	if _, err := revInf.Informer().AddEventHandler(c.owners.Handlers()); err != nil {
		return nil, fmt.Errorf("statefulset: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.client, Component)
	}
	return worker.Loop[string]{Name: "statefulset", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Sync reconciles one StatefulSet, by namespace/name key, from the cached state.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	set := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil // the API server refuses these; nothing to do
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	m := &ownerref.Manager{
		Owner: set, OwnerGVK: controllerKind, Selector: selector,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: ownerref.RecheckOwner(set, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		}),
	}
	// Only pods named <set>-<ordinal> are the set's: kube's isMemberOf.
	var members []*corev1.Pod
	for _, p := range all {
		if _, ok := ordinalOf(set, p); ok {
			members = append(members, p)
		}
	}
	pods, err := ownerref.Claim(ctx, m, members)
	if err != nil {
		return err
	}
	if set.DeletionTimestamp != nil {
		return nil // the garbage collector deletes its pods
	}
	if !c.exp.Satisfied(key) {
		return nil // an informer event will bring us back
	}
	return c.sync(ctx, key, set, pods)
}

// ordinalOf parses <set>-<ordinal> from the pod's name.
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}
