// Package ingress is webkube's built-in ingress controller: an HTTP reverse proxy on a
// host port that routes each request by host and path, as the Ingresses of its class say,
// to a ready endpoint of the backend Service, and writes its address into those Ingresses'
// status. A second, TLS port routes the same way, presenting for each host (SNI) the
// certificate of the Ingress's spec.tls Secret, else a self-signed default one. Like the other controllers it is a client of the API server: routes are read
// from informers' caches at each request, so they follow every change without a reload.
package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/printers"
	"webkube/cluster/stepper"
)

const (
	// Component is the name the controller announces its steps with.
	Component = "ingress-controller"
	// ControllerName is what its IngressClass's spec.controller says.
	ControllerName = "webkube.io/ingress-controller"
	// DefaultClassName is the IngressClass created at Start, marked default.
	DefaultClassName = "webkube"
)

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	// Addr is where the proxy listens (host:port); port 0 picks a free one. Required.
	Addr string
	// TLSAddr is where the TLS (HTTPS) proxy listens; "" turns it off.
	TLSAddr  string
	Gate     *stepper.Gate
	Clock    clock.WithTicker
	Logger   *slog.Logger
	Recorder record.EventRecorder // tests; Start makes one when nil
}

// Controller runs the proxy and keeps its Ingresses' status.
type Controller struct {
	cfg         Config
	ingresses   networkinglisters.IngressLister
	classes     networkinglisters.IngressClassLister
	services    corelisters.ServiceLister
	endpoints   corelisters.EndpointsLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	next        atomic.Uint64 // round robin over a backend's endpoints
	addr        atomic.Value  // string: where the proxy listens, once Start has run
	tlsAddr     atomic.Value  // string: where the TLS proxy listens ("" when off)
	certs       *certs
	defaultCert *tls.Certificate
	recorder    record.EventRecorder
	mu          sync.Mutex
	reported    map[string]string // by Ingress key: the TLS problems last announced in an Event
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("ingress: Client is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("ingress: address %q: want host:port such as 127.0.0.1:8081", cfg.Addr)
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
	ingInf := cfg.Informers.Networking().V1().Ingresses()
	icInf := cfg.Informers.Networking().V1().IngressClasses()
	svcInf := cfg.Informers.Core().V1().Services()
	epInf := cfg.Informers.Core().V1().Endpoints()
	secInf := cfg.Informers.Core().V1().Secrets()
	def, err := selfSigned(cfg.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("ingress: default certificate: %w", err)
	}
	c := &Controller{cfg: cfg, ingresses: ingInf.Lister(), classes: icInf.Lister(), services: svcInf.Lister(), endpoints: epInf.Lister(),
		synced: []cache.InformerSynced{ingInf.Informer().HasSynced, icInf.Informer().HasSynced,
			svcInf.Informer().HasSynced, epInf.Informer().HasSynced, secInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ingress", Clock: cfg.Clock}),
	}
	c.certs = &certs{secrets: secInf.Lister(), parsed: map[string]parsedCert{}}
	c.defaultCert, c.recorder, c.reported = def, cfg.Recorder, map[string]string{}
	c.addr.Store("")
	c.tlsAddr.Store("")
	if _, err := ingInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue, UpdateFunc: func(_, o any) { c.enqueue(o) }}); err != nil {
		return nil, fmt.Errorf("ingress: handler: %w", err)
	}
	// A class made default, or ours created, changes which Ingresses are ours.
	all := func(any) { c.enqueueAll() }
	if _, err := icInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: all, UpdateFunc: func(_, o any) { all(o) }, DeleteFunc: all}); err != nil {
		return nil, fmt.Errorf("ingress: handler: %w", err)
	}
	// A Secret made, renewed or deleted changes what its Ingresses serve over TLS.
	if _, err := secInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.secretChanged, UpdateFunc: func(_, o any) { c.secretChanged(o) }, DeleteFunc: c.secretChanged}); err != nil {
		return nil, fmt.Errorf("ingress: handler: %w", err)
	}
	// Services and Endpoints are read at each request; their informers only need to run.
	return c, nil
}

// Addr is where the proxy listens ("" before Start).
func (c *Controller) Addr() string { return c.addr.Load().(string) }

// TLSAddr is where the TLS proxy listens ("" before Start or when off).
func (c *Controller) TLSAddr() string { return c.tlsAddr.Load().(string) }

// DefaultCertificate is what the TLS proxy presents when no Ingress's Secret fits.
func (c *Controller) DefaultCertificate() *tls.Certificate { return c.defaultCert }

// Start creates the default IngressClass when missing, opens the proxy's port (failing
// if it is taken), starts the informers and workers, and returns once caches synced.
func (c *Controller) Start(ctx context.Context) error {
	if err := c.ensureDefaultClass(ctx); err != nil {
		return fmt.Errorf("ingress: default IngressClass: %w", err)
	}
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.cfg.Client, Component)
	}
	ln, err := net.Listen("tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ingress proxy (--ingress-addr): %w", err)
	}
	var tlsLn net.Listener
	if c.cfg.TLSAddr != "" {
		if tlsLn, err = net.Listen("tcp", c.cfg.TLSAddr); err != nil {
			ln.Close()
			return fmt.Errorf("ingress TLS proxy (--ingress-tls-addr): %w", err)
		}
		c.tlsAddr.Store(tlsLn.Addr().String())
		tlsLn = tls.NewListener(tlsLn, &tls.Config{GetCertificate: c.getCertificate, MinVersion: tls.VersionTLS12})
		c.serve(ctx, tlsLn, "ingress TLS proxy")
	}
	c.addr.Store(ln.Addr().String())
	c.serve(ctx, ln, "ingress proxy")
	return worker.Loop[string]{Name: "ingress", Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: 1, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// serve runs the proxy on ln until ctx ends.
func (c *Controller) serve(ctx context.Context, ln net.Listener, what string) {
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(c.cfg.Logger.Handler(), slog.LevelDebug)} // failed handshakes are the clients' business
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.cfg.Logger.Error(what+" stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	c.cfg.Logger.Info(what+" listening", "addr", ln.Addr().String())
}

// DefaultClass is the IngressClass webkube's controller serves, marked default so an
// Ingress naming no class gets it.
func DefaultClass() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultClassName, Annotations: map[string]string{printers.IsDefaultIngressClassAnnotation: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: ControllerName},
	}
}

func (c *Controller) ensureDefaultClass(ctx context.Context) error {
	_, err := c.cfg.Client.NetworkingV1().IngressClasses().Get(ctx, DefaultClassName, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = c.cfg.Client.NetworkingV1().IngressClasses().Create(ctx, DefaultClass(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// secretChanged resyncs the Ingresses of the Secret's namespace that name it in spec.tls.
func (c *Controller) secretChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	c.certs.forget(sec.Namespace, sec.Name)
	ings, _ := c.ingresses.Ingresses(sec.Namespace).List(labels.Everything())
	for _, ing := range ings {
		for _, t := range ing.Spec.TLS {
			if t.SecretName == sec.Name {
				c.enqueue(ing)
				break
			}
		}
	}
}

func (c *Controller) enqueueAll() {
	ings, _ := c.ingresses.List(labels.Everything())
	for _, ing := range ings {
		c.enqueue(ing)
	}
}

// ours reports whether this controller serves ing: its class (ingressClassName, else the
// old annotation) is an IngressClass of this controller. An Ingress naming no class is
// ours when our class is the default one.
func (c *Controller) ours(ing *networkingv1.Ingress) bool {
	name := ""
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else if ann, ok := ing.Annotations["kubernetes.io/ingress.class"]; ok {
		name = ann
	}
	if name == "" {
		ic, err := c.classes.Get(DefaultClassName)
		return err == nil && ic.Spec.Controller == ControllerName && ic.Annotations[printers.IsDefaultIngressClassAnnotation] == "true"
	}
	ic, err := c.classes.Get(name)
	return err == nil && ic.Spec.Controller == ControllerName
}

// status is what an Ingress of ours should say: the proxy's address and port, and the
// TLS proxy's port when the Ingress has spec.tls.
func (c *Controller) status(ing *networkingv1.Ingress) networkingv1.IngressLoadBalancerStatus {
	host, port, _ := net.SplitHostPort(c.Addr())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: loopback is one that surely reaches it
	}
	n, _ := strconv.Atoi(port)
	ports := []networkingv1.IngressPortStatus{{Port: int32(n), Protocol: "TCP"}}
	if _, tlsPort, err := net.SplitHostPort(c.TLSAddr()); err == nil && len(ing.Spec.TLS) > 0 {
		n, _ := strconv.Atoi(tlsPort)
		ports = append(ports, networkingv1.IngressPortStatus{Port: int32(n), Protocol: "TCP"})
	}
	return networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: host, Ports: ports}}}
}
