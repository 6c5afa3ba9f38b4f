// Package podautoscaler is webkube's horizontal-pod-autoscaler: every SyncPeriod (15 s) it
// reads each HorizontalPodAutoscaler's target through its scale subresource (Deployment,
// ReplicaSet, StatefulSet, ReplicationController), its pods' CPU and memory from the metrics API, proposes a replica
// count per metric as kube-controller-manager does (usage against the target, 10%
// tolerance, pods not measured or not ready counted to dampen the change), takes the
// largest, stabilizes it over the behavior's windows, bounds it by the rate policies and
// min/max, rescales and writes status with its conditions.
package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name on this controller's Events.
const Component = "horizontal-pod-autoscaler"

// DefaultSyncPeriod is kube-controller-manager's --horizontal-pod-autoscaler-sync-period.
const DefaultSyncPeriod = 15 * time.Second

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	// Metrics reads pods' usage; default the metrics API through Client.
	Metrics MetricsSource
	// CustomMetrics reads Pods, Object and External metrics; default the custom and
	// external metrics APIs through Client (which webkube does not serve).
	CustomMetrics CustomMetricsSource
	Gate          *stepper.Gate
	Clock         clock.WithTicker
	Logger        *slog.Logger
	SyncPeriod    time.Duration        // default 15s
	Tolerance     float64              // default 0.1
	Workers       int                  // default 2
	Recorder      record.EventRecorder // tests
}

// Controller reconciles HorizontalPodAutoscalers.
type Controller struct {
	cfg      Config
	hpas     autoscalinglisters.HorizontalPodAutoscalerLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder

	mu      sync.Mutex
	recs    map[string][]recommendation // by HPA key: proposals, for stabilization
	scaleEv map[string][]scaleEvent     // by HPA key: changes made, for the rate policies
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("podautoscaler: Client is required")
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
	if cfg.Metrics == nil {
		cfg.Metrics = APIMetrics{Client: cfg.Client}
	}
	if cfg.CustomMetrics == nil {
		cfg.CustomMetrics = APICustomMetrics{Client: cfg.Client}
	}
	if cfg.SyncPeriod == 0 {
		cfg.SyncPeriod = DefaultSyncPeriod
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	hpaInf := cfg.Informers.Autoscaling().V2().HorizontalPodAutoscalers()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		cfg: cfg, hpas: hpaInf.Lister(), pods: podInf.Lister(),
		synced: []cache.InformerSynced{hpaInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "horizontalpodautoscaler", Clock: cfg.Clock}),
		recorder: cfg.Recorder,
		recs:     map[string][]recommendation{},
		scaleEv:  map[string][]scaleEvent{},
	}
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.forget,
	}); err != nil {
		return nil, fmt.Errorf("podautoscaler: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.cfg.Client, Component)
	}
	return worker.Loop[string]{Name: "horizontalpodautoscaler", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) forget(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.mu.Lock()
	delete(c.recs, key)
	delete(c.scaleEv, key)
	c.mu.Unlock()
}
