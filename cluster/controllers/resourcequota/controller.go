// Package resourcequota is kube-controller-manager's resourcequota controller: it keeps
// each ResourceQuota's status current (status.hard from spec.hard, status.used counted
// from the namespace's objects), so the API server's quota admission knows what is left.
// The admission charges a new object at once; this controller recounts when a quota
// changes, when a counted object goes or finishes, and every ResyncPeriod, giving back
// charges for creates that failed after admission.
package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/admission/quota"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name this controller announces its steps with.
const Component = "resourcequota-controller"

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int           // default 2
	Resync    time.Duration // full recount of every quota; default 30s
}

// Controller keeps ResourceQuota status.
type Controller struct {
	cfg    Config
	quotas corelisters.ResourceQuotaLister
	typed  map[schema.GroupResource]lister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string] // quota ns/name
	counts *counter
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("resourcequota: Client is required")
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
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	qInf := cfg.Informers.Core().V1().ResourceQuotas()
	c := &Controller{cfg: cfg, quotas: qInf.Lister(), synced: []cache.InformerSynced{qInf.Informer().HasSynced},
		counts: &counter{client: cfg.Client},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resourcequota", Clock: cfg.Clock}),
	}
	if _, err := qInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		// Only a new spec needs a recount: status changes are the admission's charges
		// (recounting then from informers that may not yet hold the new object would
		// undo them).
		UpdateFunc: func(old, cur any) {
			if !apiequality.Semantic.DeepEqual(old.(*corev1.ResourceQuota).Spec, cur.(*corev1.ResourceQuota).Spec) {
				c.enqueue(cur)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("resourcequota: handler: %w", err)
	}
	if err := c.watchCounted(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Start starts the informers, the workers and the periodic recount; it returns once
// caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if err := (worker.Loop[string]{Name: "resourcequota", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}).Start(ctx); err != nil {
		return err
	}
	go c.resyncLoop(ctx)
	return nil
}

func (c *Controller) resyncLoop(ctx context.Context) {
	t := c.cfg.Clock.NewTicker(c.cfg.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.replenish("")
		}
	}
}

// replenish queues every quota of namespace ns ("" = all).
func (c *Controller) replenish(ns string) {
	var qs []*corev1.ResourceQuota
	if ns == "" {
		qs, _ = c.quotas.List(labels.Everything())
	} else {
		qs, _ = c.quotas.ResourceQuotas(ns).List(labels.Everything())
	}
	for _, q := range qs {
		c.enqueue(q)
	}
}

// Sync recounts quota key (ns/name) and writes its status if it changed.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	q, err := c.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, err := c.usage(ctx, q)
	if err != nil {
		return fmt.Errorf("counting for quota %s: %w", key, err)
	}
	status := corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: used}
	if apiequality.Semantic.DeepEqual(status, q.Status) {
		return nil
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "update-quota-status", Kind: "ResourceQuota",
		Namespace: ns, Name: name,
		Message: fmt.Sprintf("ResourceQuota %s uses %s of %s", name, quota.PrettyPrint(used), quota.PrettyPrint(q.Spec.Hard)),
		Says:    stepper.Say("adm.quota_counts", name, quota.PrettyPrint(used), quota.PrettyPrint(q.Spec.Hard)),
		Why:     "the API server refuses a new object that would take a quota past its hard limits, reading what is used from the quota's status",
		Because: stepper.Say("adm.why_quota")}); err != nil {
		return err
	}
	q = q.DeepCopy()
	q.Status = status
	// The lister's resourceVersion: an admission charge since then makes this a conflict,
	// and the recount runs again rather than overwrite it.
	_, err = c.cfg.Client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{})
	return err
}
