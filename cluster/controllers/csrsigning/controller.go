// Package csrsigning is kube-controller-manager's csrsigning controller: it signs approved
// CertificateSigningRequests for the kubernetes.io signers with the cluster CA, after
// checking the request fits its signer (a client certificate for kube-apiserver-client, a
// node's for kube-apiserver-client-kubelet and kubelet-serving), and marks the ones that
// do not fit Failed.
package csrsigning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/certs"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/validation"
)

// Component is the controller's name, as kube-controller-manager's.
const Component = "csrsigning-controller"

// DefaultTTL is how long a signed certificate lasts unless the request asks for less, as
// kube-controller-manager's --cluster-signing-duration (one year).
const DefaultTTL = 365 * 24 * time.Hour

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	CA        *certs.CA
	Clock     clock.WithTicker
	Logger    *slog.Logger
}

// Controller signs approved CertificateSigningRequests.
type Controller struct {
	cfg    Config
	csrs   certlisters.CertificateSigningRequestLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.CA == nil {
		return nil, errors.New("csrsigning: Client and CA are required")
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
	inf := cfg.Informers.Certificates().V1().CertificateSigningRequests()
	c := &Controller{cfg: cfg, csrs: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrsigning", Clock: cfg.Clock}),
	}
	add := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: add, UpdateFunc: func(_, o any) { add(o) },
	}); err != nil {
		return nil, fmt.Errorf("csrsigning: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	return worker.Loop[string]{Name: Component, Informers: c.cfg.Informers, Synced: []cache.InformerSynced{c.synced},
		Queue: c.queue, Workers: 2, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// Sync signs the named request if it is approved, for one of our signers, not failed and
// not yet signed.
func (c *Controller) Sync(ctx context.Context, name string) error {
	cached, err := c.csrs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !has(cached, certificatesv1.CertificateApproved) || has(cached, certificatesv1.CertificateDenied) ||
		has(cached, certificatesv1.CertificateFailed) || len(cached.Status.Certificate) > 0 {
		return nil
	}
	check, ok := signers[cached.Spec.SignerName]
	if !ok {
		return nil // another signer's (kubernetes.io/legacy-unknown is not served by v1)
	}
	csr := cached.DeepCopy()
	req, err := validation.ParseCSR(csr.Spec.Request)
	if err != nil {
		return nil // the API server refuses such requests; nothing to sign
	}
	now := c.cfg.Clock.Now()
	if err := check(req, csr.Spec.Usages); err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: err.Error(), LastUpdateTime: metav1.NewTime(now)})
	} else {
		keyUsage, extUsage := usages(csr.Spec.Usages)
		cert, err := c.cfg.CA.Sign(certs.SignRequest{Request: req, KeyUsage: keyUsage, ExtKeyUsage: extUsage,
			TTL: ttl(csr.Spec.ExpirationSeconds)}, now)
		if err != nil {
			return fmt.Errorf("signing %s: %w", name, err)
		}
		csr.Status.Certificate = cert
	}
	_, err = c.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func has(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// ttl is kube's signer duration: the requested one, between 10 minutes and DefaultTTL.
func ttl(expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return DefaultTTL
	}
	return min(max(time.Duration(*expirationSeconds)*time.Second, 10*time.Minute), DefaultTTL)
}
