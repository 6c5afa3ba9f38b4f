// Package serviceaccount is webkube's serviceaccount-controller together with the root CA
// publisher of kube-controller-manager: every active namespace gets a `default`
// ServiceAccount (made again if deleted) and the ConfigMap kube-root-ca.crt holding the CA
// that pods use to trust the API server (the kubelet puts it in each pod as ca.crt).
package serviceaccount

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name this controller announces its steps with.
const Component = "serviceaccount-controller"

const (
	// DefaultName is the ServiceAccount every namespace has.
	DefaultName = "default"
	// RootCAConfigMap is the ConfigMap of every namespace holding the cluster's CA.
	RootCAConfigMap = "kube-root-ca.crt"
	// RootCAKey is the key of the CA certificate in RootCAConfigMap.
	RootCAKey = "ca.crt"
)

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	// RootCA is the PEM CA certificate published as kube-root-ca.crt; none if empty.
	RootCA  []byte
	Gate    *stepper.Gate
	Clock   clock.WithTicker
	Logger  *slog.Logger
	Workers int // default 2
}

// Controller keeps each namespace's default ServiceAccount and kube-root-ca.crt.
type Controller struct {
	cfg        Config
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string] // namespace names
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("serviceaccount: Client is required")
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
	nsInf := cfg.Informers.Core().V1().Namespaces()
	saInf := cfg.Informers.Core().V1().ServiceAccounts()
	cmInf := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{cfg: cfg, namespaces: nsInf.Lister(), accounts: saInf.Lister(), configMaps: cmInf.Lister(),
		synced: []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount", Clock: cfg.Clock}),
	}
	onNamespace := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			c.queue.Add(ns.Name)
		}
	}
	// Only a change to one of our two objects matters: its namespace is looked at again.
	ours := func(name string) func(obj any) {
		return func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if m, ok := obj.(metav1.Object); ok && m.GetName() == name {
				c.queue.Add(m.GetNamespace())
			}
		}
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{nsInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: onNamespace, UpdateFunc: func(_, o any) { onNamespace(o) }}},
		{saInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: ours(DefaultName)}},
		{cmInf.Informer(), cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, o any) { ours(RootCAConfigMap)(o) }, DeleteFunc: ours(RootCAConfigMap)}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("serviceaccount: handler: %w", err)
		}
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	return worker.Loop[string]{Name: "serviceaccount", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// Sync makes sure the active namespace ns has its default ServiceAccount and root CA
// ConfigMap. A namespace being deleted gets nothing new (its objects are going).
func (c *Controller) Sync(ctx context.Context, ns string) error {
	n, err := c.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Status.Phase != corev1.NamespaceActive || n.DeletionTimestamp != nil {
		return nil
	}
	if err := c.ensureServiceAccount(ctx, ns); err != nil {
		return fmt.Errorf("serviceaccount %s/%s: %w", ns, DefaultName, err)
	}
	if err := c.ensureRootCA(ctx, ns); err != nil {
		return fmt.Errorf("configmap %s/%s: %w", ns, RootCAConfigMap, err)
	}
	return nil
}

func (c *Controller) ensureServiceAccount(ctx context.Context, ns string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(DefaultName); !apierrors.IsNotFound(err) {
		return err
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "create-serviceaccount", Kind: "ServiceAccount",
		Namespace: ns, Name: DefaultName,
		Message: fmt.Sprintf("creating ServiceAccount default in namespace %s", ns),
		Says:    stepper.Say("held.sa_creates", ns),
		Why:     "every namespace has a default ServiceAccount, which its pods run as unless they name another",
		Because: stepper.Say("why.sa_default")}); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: ns}}
	_, err := c.cfg.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // our cache is behind
	}
	return err
}

func (c *Controller) ensureRootCA(ctx context.Context, ns string) error {
	if len(c.cfg.RootCA) == 0 {
		return nil
	}
	cm, err := c.configMaps.ConfigMaps(ns).Get(RootCAConfigMap)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: ns,
			Annotations: map[string]string{"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
			Data: map[string]string{RootCAKey: string(c.cfg.RootCA)}}
		_, err = c.cfg.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if bytes.Equal([]byte(cm.Data[RootCAKey]), c.cfg.RootCA) && len(cm.Data) == 1 {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = map[string]string{RootCAKey: string(c.cfg.RootCA)}
	_, err = c.cfg.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
