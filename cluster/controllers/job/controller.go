// Package job is webkube's job-controller: it runs each Job's pods to completion as
// Kubernetes does. It keeps min(parallelism, completions left) pods running, counts every
// finished pod exactly once (pods carry the batch.kubernetes.io/job-tracking finalizer until
// the count is in status), waits an exponential back-off (10 s doubling, at most 6 min)
// before replacing failed pods, fails the Job past backoffLimit or activeDeadlineSeconds,
// marks it SuccessCriteriaMet/FailureTarget and then Complete/Failed once its pods are
// gone, and deletes finished Jobs ttlSecondsAfterFinished later (the TTL-after-finished
// controller's job).
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/expectations"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name on this controller's Events.
const Component = "job-controller"

var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Back-off before a failed pod is replaced, as kube-controller-manager's job controller.
const (
	DefaultBackoff = 10 * time.Second
	MaxBackoff     = 6 * time.Minute
)

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

// Controller reconciles Jobs.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	orphans  workqueue.TypedRateLimitingInterface[string] // pod keys whose Job is gone
	exp      *expectations.Expectations
	backoff  *backoffStore
	released uidSet    // pods whose finalizer was removed, until the informer shows it
	written  revisions // the resourceVersion of each Job's last status write
	recorder record.EventRecorder
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("job: Client is required")
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
	jobInf := cfg.Informers.Batch().V1().Jobs()
	podInf := cfg.Informers.Core().V1().Pods()
	newQueue := func(name string) workqueue.TypedRateLimitingInterface[string] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: cfg.Clock})
	}
	c := &Controller{
		cfg: cfg, client: cfg.Client,
		jobs: jobInf.Lister(), pods: podInf.Lister(),
		synced:   []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:    newQueue("job"),
		orphans:  newQueue("job-orphan-pods"),
		exp:      expectations.New(cfg.Clock),
		backoff:  newBackoffStore(),
		recorder: cfg.Recorder,
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.exp.Delete(key)
				c.backoff.forget(key)
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("job: handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(obj, true) },
		UpdateFunc: func(_, obj any) { c.podChanged(obj, false) },
		DeleteFunc: c.podDeleted,
	}); err != nil {
		return nil, fmt.Errorf("job: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.client, Component)
	}
	if err := (worker.Loop[string]{Name: "job", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}).Start(ctx); err != nil {
		return err
	}
	// Pods whose Job is gone, freed of the tracking finalizer by one worker of their own.
	go func() { <-ctx.Done(); c.orphans.ShutDown() }()
	go worker.Run(ctx, c.orphans, c.SyncOrphanPod, c.cfg.Logger)
	return nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// jobFor returns the Job controlling pod, if it still exists as that object.
func (c *Controller) jobFor(pod *corev1.Pod) *batchv1.Job {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil
	}
	job, err := c.jobs.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

func jobKey(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func (c *Controller) podChanged(obj any, added bool) {
	pod := obj.(*corev1.Pod)
	if !hasTrackingFinalizer(pod) {
		c.released.remove(pod.UID)
	}
	job := c.jobFor(pod)
	if job == nil {
		if hasTrackingFinalizer(pod) {
			c.orphans.Add(pod.Namespace + "/" + pod.Name)
		}
		if ref := metav1.GetControllerOf(pod); ref == nil {
			c.enqueueMatching(pod) // an orphan a Job may adopt
		}
		return
	}
	if added {
		c.exp.CreationObserved(jobKey(job))
	}
	c.queue.Add(jobKey(job))
}

func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, err := c.jobs.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, job := range all {
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(jobKey(job))
		}
	}
}

func (c *Controller) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.released.remove(pod.UID)
	if job := c.jobFor(pod); job != nil {
		c.exp.DeletionObserved(jobKey(job), pod.Namespace+"/"+pod.Name)
		c.queue.Add(jobKey(job))
	}
}

// Sync reconciles one Job, by namespace/name key, from the cached state.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		c.backoff.forget(key)
		c.written.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.written.newer(key, cached.ResourceVersion) {
		// The cache has not caught up with our own last status write: it would count the
		// pods whose finalizers that write's sync removed as never having finished, and
		// replace them. The write's watch event brings the key back.
		return nil
	}
	// Read before the pods are listed, as Kubernetes' syncJob does: a pod the last sync
	// created may reach the cache between the two, and must then not be created again.
	satisfied := c.exp.Satisfied(key)
	job := cached.DeepCopy()
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	if isFinished(job) || job.DeletionTimestamp != nil {
		// Nothing more to run; let go of pods still held for counting, then maybe expire.
		if err := c.removeFinalizers(ctx, job, pods, func(*corev1.Pod) bool { return true }); err != nil {
			return err
		}
		return c.expireIfDue(ctx, key, job)
	}
	return c.syncRunning(ctx, key, job, pods, satisfied)
}
