// Package volume is webkube's persistent volume controller: kube-controller-manager's PV
// binder (claims bound to the smallest matching volume, both sides recording it), a
// built-in local-path provisioner (a directory under the data dir for each claim of its
// class, removed with its volume when the reclaim policy is Delete), and the pvc- and
// pv-protection controllers (a claim in use by a pod, or a bound volume, is not removed
// until it is free).
package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name this controller announces its steps and events with.
const Component = "persistentvolume-controller"

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	// VolumesDir is where the local-path provisioner makes its volumes' directories
	// (<data dir>/volumes); required.
	VolumesDir string
	// DefaultClass, if true, creates the default StorageClass at Start when it is missing.
	DefaultClass bool
	Recorder     record.EventRecorder // default: events to the API server
	Gate         *stepper.Gate
	Clock        clock.WithTicker
	Logger       *slog.Logger
	Workers      int // default 2
}

// Controller binds, provisions, reclaims and protects persistent volumes.
type Controller struct {
	cfg     Config
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	pods    corelisters.PodLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	rec     record.EventRecorder
}

// Queue keys: "claim/<ns>/<name>" or "volume/<name>".
const (
	claimPrefix  = "claim/"
	volumePrefix = "volume/"
)

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("volume: Client is required")
	}
	if cfg.VolumesDir == "" || !filepath.IsAbs(cfg.VolumesDir) {
		return nil, fmt.Errorf("volume: VolumesDir must be an absolute path, got %q", cfg.VolumesDir)
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
	pvcInf := cfg.Informers.Core().V1().PersistentVolumeClaims()
	pvInf := cfg.Informers.Core().V1().PersistentVolumes()
	scInf := cfg.Informers.Storage().V1().StorageClasses()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{cfg: cfg, claims: pvcInf.Lister(), volumes: pvInf.Lister(), classes: scInf.Lister(), pods: podInf.Lister(),
		synced: []cache.InformerSynced{pvcInf.Informer().HasSynced, pvInf.Informer().HasSynced,
			scInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "volume", Clock: cfg.Clock}),
		rec: cfg.Recorder,
	}
	all := func(h func(obj any)) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{AddFunc: h, UpdateFunc: func(_, o any) { h(o) }, DeleteFunc: h}
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{pvcInf.Informer(), all(c.onClaim)},
		{pvInf.Informer(), all(c.onVolume)},
		{scInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: func(any) { c.enqueuePendingClaims() }}},
		{podInf.Informer(), all(c.onPod)},
	} {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("volume: handler: %w", err)
		}
	}
	return c, nil
}

// Start creates the default StorageClass if asked to, starts the informers and workers;
// it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.rec == nil {
		c.rec = events.RecorderUntilDone(ctx, c.cfg.Client, Component)
	}
	if c.cfg.DefaultClass {
		if err := c.ensureDefaultClass(ctx); err != nil {
			return err
		}
	}
	return worker.Loop[string]{Name: "volume", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// Sync reconciles one claim or one volume by its queue key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	if name, ok := strings.CutPrefix(key, volumePrefix); ok {
		return c.syncVolume(ctx, name)
	}
	if rest, ok := strings.CutPrefix(key, claimPrefix); ok {
		ns, name, err := cache.SplitMetaNamespaceKey(rest)
		if err != nil {
			return nil
		}
		return c.syncClaim(ctx, ns, name)
	}
	return nil
}

func unwrap(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

func claimKey(ns, name string) string { return claimPrefix + ns + "/" + name }

func (c *Controller) onClaim(obj any) {
	pvc, ok := unwrap(obj).(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	c.queue.Add(claimKey(pvc.Namespace, pvc.Name))
	if pvc.Spec.VolumeName != "" {
		c.queue.Add(volumePrefix + pvc.Spec.VolumeName) // its volume may now be released
	}
}

func (c *Controller) onVolume(obj any) {
	pv, ok := unwrap(obj).(*corev1.PersistentVolume)
	if !ok {
		return
	}
	c.queue.Add(volumePrefix + pv.Name)
	if ref := pv.Spec.ClaimRef; ref != nil {
		c.queue.Add(claimKey(ref.Namespace, ref.Name))
	} else {
		c.enqueuePendingClaims() // a new free volume may fit a waiting claim
	}
}

// onPod looks again at the claims a pod uses: one being deleted may now be free.
func (c *Controller) onPod(obj any) {
	pod, ok := unwrap(obj).(*corev1.Pod)
	if !ok {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			c.queue.Add(claimKey(pod.Namespace, v.PersistentVolumeClaim.ClaimName))
		}
	}
}

func (c *Controller) enqueuePendingClaims() {
	claims, err := c.claims.List(everything)
	if err != nil {
		return
	}
	for _, pvc := range claims {
		if pvc.Spec.VolumeName == "" {
			c.queue.Add(claimKey(pvc.Namespace, pvc.Name))
		}
	}
}
