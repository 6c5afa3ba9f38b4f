// Package endpoints is webkube's endpoints controller: for every Service with a selector
// it keeps an Endpoints object and its EndpointSlices listing the pods the Service
// selects, ready ones apart from the others, as Kubernetes' endpoints and endpointslice
// controllers do. The service proxy and cluster DNS read what it writes.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
)

// Component is the name this controller uses in step-mode steps and logs.
const Component = "endpoints-controller"

// Config configures a Controller.
type Config struct {
	Client kubernetes.Interface // required
	// Informers lets the caller share one informer cache with other components; default a
	// new one owned by the Controller.
	Informers informers.SharedInformerFactory
	Gate      *stepper.Gate // optional; nil never holds
	Logger    *slog.Logger  // optional
	Workers   int           // default 2
	// KubernetesEndpoint, "ip:port", is where the API server listens. If set, the Endpoints
	// and EndpointSlice of the selector-less `kubernetes` Service in default point there,
	// as kube-apiserver keeps them itself, so pods reach the API at its ClusterIP.
	KubernetesEndpoint string
}

// Controller keeps Endpoints and EndpointSlices in step with Services and pods.
type Controller struct {
	client  kubernetes.Interface
	gate    *stepper.Gate
	log     *slog.Logger
	workers int

	factory    informers.SharedInformerFactory
	ownFactory bool
	apiAddr    *corev1.EndpointAddress
	apiPort    int32
	services   corelisters.ServiceLister
	pods       corelisters.PodLister
	endpoints  corelisters.EndpointsLister
	slices     discoverylisters.EndpointSliceLister
	hasSynced  []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	startOnce  sync.Once
	startError error

	// Our own writes the caches may not show yet (see written).
	wroteEndpoints written[*corev1.Endpoints]
	wroteSlices    written[*discoveryv1.EndpointSlice]
}

// NewController builds a Controller; Start runs it.
func NewController(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("endpoints: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	f, own := cfg.Informers, false
	if f == nil {
		f, own = informers.NewSharedInformerFactory(cfg.Client, 0), true
	}
	c := &Controller{
		client:     cfg.Client,
		gate:       cfg.Gate,
		log:        cfg.Logger.With("component", Component),
		workers:    cfg.Workers,
		factory:    f,
		ownFactory: own,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Component}),
	}
	if cfg.KubernetesEndpoint != "" {
		host, port, err := net.SplitHostPort(cfg.KubernetesEndpoint)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil || net.ParseIP(host).To4() == nil {
			return nil, fmt.Errorf("endpoints: KubernetesEndpoint %q is not an IPv4 ip:port", cfg.KubernetesEndpoint)
		}
		c.apiAddr, c.apiPort = &corev1.EndpointAddress{IP: host}, int32(n)
	}
	svcInf := f.Core().V1().Services()
	podInf := f.Core().V1().Pods()
	epInf := f.Core().V1().Endpoints()
	sliceInf := f.Discovery().V1().EndpointSlices()
	c.services, c.pods, c.endpoints, c.slices = svcInf.Lister(), podInf.Lister(), epInf.Lister(), sliceInf.Lister()

	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("endpoints: watch services: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.podChanged(nil, o) },
		UpdateFunc: c.podChanged,
		DeleteFunc: func(o any) { c.podChanged(nil, o) },
	}); err != nil {
		return nil, fmt.Errorf("endpoints: watch pods: %w", err)
	}
	// Someone editing our objects by hand gets them put back.
	if _, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("endpoints: watch endpoints: %w", err)
	}
	if _, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, n any) { c.sliceChanged(n) },
		DeleteFunc: c.sliceChanged,
	}); err != nil {
		return nil, fmt.Errorf("endpoints: watch endpointslices: %w", err)
	}
	c.hasSynced = []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced, sliceInf.Informer().HasSynced}
	return c, nil
}

// Start starts the informers and workers and returns once the caches are synced. The
// workers stop when ctx ends.
func (c *Controller) Start(ctx context.Context) error {
	c.startOnce.Do(func() {
		c.factory.Start(ctx.Done())
		if !cache.WaitForCacheSync(ctx.Done(), c.hasSynced...) {
			c.startError = fmt.Errorf("endpoints: caches did not sync: %w", ctx.Err())
			return
		}
		for range c.workers {
			go worker.Run(ctx, c.queue, c.Sync, c.log)
		}
		go func() {
			<-ctx.Done()
			c.queue.ShutDown()
			if c.ownFactory {
				c.factory.Shutdown()
			}
		}()
	})
	return c.startError
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) sliceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
		return
	}
	if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
		c.queue.Add(s.Namespace + "/" + name)
	}
}

// podChanged queues every Service whose selector matches the pod before or after the
// change, so a pod that loses a label leaves the Service's endpoints.
func (c *Controller) podChanged(oldObj, newObj any) {
	var pods []*corev1.Pod
	for _, o := range []any{oldObj, newObj} {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return
	}
	svcs, err := c.services.Services(pods[0].Namespace).List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for _, svc := range svcs {
		if svc.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
		for _, p := range pods {
			if sel.Matches(labels.Set(p.Labels)) {
				c.queue.Add(svc.Namespace + "/" + svc.Name)
				break
			}
		}
	}
}

// Sync reconciles the Endpoints and EndpointSlices of the Service with key namespace/name
// from the current state of the caches. Exported so tests can drive it step by step.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a bad key never gets better
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteAll(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil {
		if ns == metav1.NamespaceDefault && name == "kubernetes" && c.apiAddr != nil {
			return c.syncKubernetes(ctx, svc)
		}
		// Without a selector the user owns the endpoints.
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	if err := c.syncEndpoints(ctx, svc, desiredEndpoints(svc, pods)); err != nil {
		c.forgetOnConflict(key, err)
		return fmt.Errorf("endpoints %s: %w", key, err)
	}
	if err := c.syncSlices(ctx, svc, desiredSlices(svc, pods)); err != nil {
		c.forgetOnConflict(key, err)
		return fmt.Errorf("endpointslices %s: %w", key, err)
	}
	return nil
}

// forgetOnConflict drops what we remember writing for a Service when someone else wrote
// after us, so the retry reads the cache.
func (c *Controller) forgetOnConflict(key string, err error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		c.wroteEndpoints.forget(key)
		c.wroteSlices.forget(key)
	}
}

// currentEndpoints is the Service's Endpoints as the cache shows it, or as we last wrote
// it if the cache is behind.
func (c *Controller) currentEndpoints(ns, name string) (*corev1.Endpoints, error) {
	cached := map[string]*corev1.Endpoints{}
	cur, err := c.endpoints.Endpoints(ns).Get(name)
	if err == nil {
		cached[name] = cur
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	if cur, ok := c.wroteEndpoints.fresh(ns+"/"+name, cached)[name]; ok {
		return cur, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("endpoints"), name)
}

// syncKubernetes points the `kubernetes` Service at the API server.
func (c *Controller) syncKubernetes(ctx context.Context, svc *corev1.Service) error {
	ports := []corev1.EndpointPort{{Name: "https", Port: c.apiPort, Protocol: corev1.ProtocolTCP}}
	if len(svc.Spec.Ports) > 0 {
		ports[0].Name = svc.Spec.Ports[0].Name
	}
	want := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: endpointsLabels(svc)},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{*c.apiAddr}, Ports: ports}},
	}
	if err := c.syncEndpoints(ctx, svc, want); err != nil {
		c.forgetOnConflict(svc.Namespace+"/"+svc.Name, err)
		return fmt.Errorf("endpoints default/kubernetes: %w", err)
	}
	slice := newSlice(svc, "apiserver")
	slice.Name = "kubernetes"
	slice.Ports = sliceports(ports)
	slice.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{c.apiAddr.IP},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}}}
	err := c.syncSlices(ctx, svc, []*discoveryv1.EndpointSlice{slice})
	c.forgetOnConflict(svc.Namespace+"/"+svc.Name, err)
	return err
}

// step holds action in step mode; msg is the English, says the same as a catalogue key
// for the dashboard.
func (c *Controller) step(ctx context.Context, action, kind, ns, name, msg string, says stepper.Text) error {
	return c.gate.Wait(ctx, stepper.Step{Component: Component, Action: action, Kind: kind, Namespace: ns, Name: name,
		Message: msg, Says: says})
}

func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, want *corev1.Endpoints) error {
	key := svc.Namespace + "/" + svc.Name
	cur, err := c.currentEndpoints(svc.Namespace, svc.Name)
	if apierrors.IsNotFound(err) {
		msg, says := describe(svc, want)
		if err := c.step(ctx, "create-endpoints", "Endpoints", svc.Namespace, svc.Name, msg, says); err != nil {
			return err
		}
		got, err := c.client.CoreV1().Endpoints(svc.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("cache behind: %w", err) // retried once the cache sees it
		}
		if err == nil {
			c.wroteEndpoints.record(key, svc.Name, "", got, false)
		}
		return err
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, want.Subsets) && mapsEqual(cur.Labels, want.Labels) &&
		cur.Annotations[overCapacityAnnotation] == want.Annotations[overCapacityAnnotation] {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Subsets = want.Subsets
	upd.Labels = want.Labels
	if v, ok := want.Annotations[overCapacityAnnotation]; ok {
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[overCapacityAnnotation] = v
	} else {
		delete(upd.Annotations, overCapacityAnnotation)
	}
	msg, says := describe(svc, want)
	if err := c.step(ctx, "update-endpoints", "Endpoints", svc.Namespace, svc.Name, msg, says); err != nil {
		return err
	}
	got, err := c.client.CoreV1().Endpoints(svc.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	if err == nil {
		c.wroteEndpoints.record(key, svc.Name, cur.ResourceVersion, got, false)
	}
	return err
}

func describe(svc *corev1.Service, ep *corev1.Endpoints) (string, stepper.Text) {
	ready, notReady := 0, 0
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	return fmt.Sprintf("endpoints of service %s/%s: %d ready, %d not ready", svc.Namespace, svc.Name, ready, notReady),
		stepper.Say("held.ep_writes", svc.Namespace, svc.Name, ready, notReady)
}

// ownSlices are the Service's slices by name, as the cache shows them or as we last
// wrote them if the cache is behind.
func (c *Controller) ownSlices(ns, svcName string) (map[string]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svcName, discoveryv1.LabelManagedBy: ManagedBy})
	have, err := c.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return nil, err
	}
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range have {
		byName[s.Name] = s
	}
	return c.wroteSlices.fresh(ns+"/"+svcName, byName), nil
}

func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, want []*discoveryv1.EndpointSlice) error {
	key := svc.Namespace + "/" + svc.Name
	byName, err := c.ownSlices(svc.Namespace, svc.Name)
	if err != nil {
		return err
	}
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	for _, w := range want {
		cur, ok := byName[w.Name]
		delete(byName, w.Name)
		if !ok {
			if err := c.step(ctx, "create-endpointslice", "EndpointSlice", w.Namespace, w.Name, fmt.Sprintf("endpointslice %s for service %s: %d endpoints", w.Name, svc.Name, len(w.Endpoints)),
				stepper.Say("held.ep_slice", w.Name, svc.Name, len(w.Endpoints))); err != nil {
				return err
			}
			got, err := api.Create(ctx, w, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			c.wroteSlices.record(key, w.Name, "", got, false)
			continue
		}
		if cur.AddressType == w.AddressType && apiequality.Semantic.DeepEqual(cur.Endpoints, w.Endpoints) &&
			apiequality.Semantic.DeepEqual(cur.Ports, w.Ports) && mapsEqual(cur.Labels, w.Labels) {
			continue
		}
		upd := cur.DeepCopy()
		upd.Endpoints, upd.Ports, upd.Labels, upd.OwnerReferences = w.Endpoints, w.Ports, w.Labels, w.OwnerReferences
		if err := c.step(ctx, "update-endpointslice", "EndpointSlice", w.Namespace, w.Name, fmt.Sprintf("endpointslice %s for service %s: %d endpoints", w.Name, svc.Name, len(w.Endpoints)),
			stepper.Say("held.ep_slice", w.Name, svc.Name, len(w.Endpoints))); err != nil {
			return err
		}
		got, err := api.Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		c.wroteSlices.record(key, w.Name, cur.ResourceVersion, got, false)
	}
	for name, cur := range byName {
		if err := c.step(ctx, "delete-endpointslice", "EndpointSlice", svc.Namespace, name, "endpointslice "+name+" no longer needed",
			stepper.Say("held.ep_slice_unneeded", name)); err != nil {
			return err
		}
		if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		c.wroteSlices.record(key, name, cur.ResourceVersion, nil, true)
	}
	return nil
}

// deleteAll removes what this controller wrote for a Service that is gone. The slices also
// carry an ownerReference, so the garbage collector would get them too; deleting them here
// keeps the proxy from routing to a deleted Service for a moment longer than needed.
func (c *Controller) deleteAll(ctx context.Context, ns, name string) error {
	if _, err := c.currentEndpoints(ns, name); err == nil {
		if err := c.step(ctx, "delete-endpoints", "Endpoints", ns, name, "service "+ns+"/"+name+" is gone",
			stepper.Say("held.ep_service_gone", ns, name)); err != nil {
			return err
		}
		if err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	slices, err := c.ownSlices(ns, name)
	if err != nil {
		return err
	}
	for _, s := range slices {
		if err := c.client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	// Nothing of the Service is left to update; deletes of objects already gone are
	// harmless, so a repeat from a lagging cache needs no memory.
	c.wroteEndpoints.forget(ns + "/" + name)
	c.wroteSlices.forget(ns + "/" + name)
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
