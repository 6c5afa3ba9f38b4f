// Package replicaset is webkube's replicaset-controller: it keeps the number of running pods
// matching each ReplicaSet's selector at spec.replicas, creating pods from the template and
// deleting the least valuable ones, adopts and releases pods by ownerReferences as
// Kubernetes does, and reports status (replicas, fullyLabeled, ready, available).
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/expectations"
	"webkube/cluster/controllers/ownerref"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
)

// Component is the name on this controller's Events.
const Component = "replicaset-controller"

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	Workers   int // default 5
	// BurstReplicas caps creations or deletions per sync, as kube-controller-manager's 500.
	BurstReplicas int
	Recorder      record.EventRecorder // tests
	// Source: the objects to run as ReplicaSets; default the API's ReplicaSets.
	Source Source
}

// Controller reconciles ReplicaSets.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	src      Source
	kind     schema.GroupVersionKind
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	exp      *expectations.Expectations
	recorder record.EventRecorder
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("replicaset: Client is required")
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
	if cfg.Source == nil {
		cfg.Source = newReplicaSets(cfg.Client, cfg.Informers)
	}
	cfg.Logger = cfg.Logger.With("component", cfg.Source.Component())
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = 500
	}
	rsInf := cfg.Source.Informer()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		cfg:    cfg,
		client: cfg.Client,
		src:    cfg.Source,
		kind:   cfg.Source.Kind(),
		pods:   podInf.Lister(),
		synced: []cache.InformerSynced{rsInf.HasSynced, podInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: cfg.Source.Component(), Clock: cfg.Clock}),
		exp:      expectations.New(cfg.Clock),
		recorder: cfg.Recorder,
	}
	if _, err := rsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.exp.Delete(key)
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("replicaset: handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("replicaset: handler: %w", err)
	}
	return c, nil
}

// Start starts the informers and workers; it returns once caches have synced.
func (c *Controller) Start(ctx context.Context) error {
	if c.recorder == nil {
		c.recorder = events.RecorderUntilDone(ctx, c.client, c.src.Component())
	}
	return worker.Loop[string]{Name: c.src.Component(), Informers: c.cfg.Informers, Synced: c.synced, Queue: c.queue,
		Workers: c.cfg.Workers, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// resolveControllerRef returns the ReplicaSet ref points to, if it is still that object.
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != c.kind.Kind {
		return nil
	}
	rs, err := c.src.Get(ns, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// matchingReplicaSets are the ReplicaSets whose selector selects pod (candidates to adopt it).
func (c *Controller) matchingReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	all, err := c.src.List(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	return out
}

func rsKey(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rs := c.resolveControllerRef(pod.Namespace, ref); rs != nil {
			c.exp.CreationObserved(rsKey(rs))
			c.queue.Add(rsKey(rs))
		}
		return
	}
	for _, rs := range c.matchingReplicaSets(pod) {
		c.queue.Add(rsKey(rs))
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, cur := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A terminating pod no longer counts: treat it as gone now so the replacement
		// is created while the old one shuts down, as Kubernetes does.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !equalRef(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(old.Namespace, oldRef); rs != nil {
			c.queue.Add(rsKey(rs))
		}
	}
	if curRef != nil {
		if rs := c.resolveControllerRef(cur.Namespace, curRef); rs != nil {
			c.queue.Add(rsKey(rs))
			// Availability changes minReadySeconds after readiness; look again then.
			if !podstatus.Ready(old) && podstatus.Ready(cur) && rs.Spec.MinReadySeconds > 0 {
				c.queue.AddAfter(rsKey(rs), time.Duration(rs.Spec.MinReadySeconds)*time.Second)
			}
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.matchingReplicaSets(cur) {
			c.queue.Add(rsKey(rs))
		}
	}
}

func equalRef(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}

func (c *Controller) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, metav1.GetControllerOf(pod))
	if rs == nil {
		return
	}
	c.exp.DeletionObserved(rsKey(rs), pod.Namespace+"/"+pod.Name)
	c.queue.Add(rsKey(rs))
}

// Sync reconciles one ReplicaSet, by namespace/name key, from the cached state.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.src.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	rs := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // invalid selectors are rejected by the API server; nothing to do
	}
	needsSync := c.exp.Satisfied(key)

	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range all {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			active = append(active, p)
		}
	}
	m := &ownerref.Manager{
		Owner: rs, OwnerGVK: c.kind, Selector: selector,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: ownerref.RecheckOwner(rs, func(ctx context.Context) (metav1.Object, error) {
			return c.src.Fetch(ctx, ns, name)
		}),
	}
	pods, claimErr := ownerref.Claim(ctx, m, active)

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil && claimErr == nil {
		manageErr = c.manageReplicas(ctx, key, pods, rs)
	}
	status := c.calculateStatus(rs, pods, manageErr)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == *updated.Spec.Replicas &&
		updated.Status.AvailableReplicas != *updated.Spec.Replicas {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return errors.Join(claimErr, manageErr)
}

func (c *Controller) manageReplicas(ctx context.Context, key string, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	want := int(*rs.Spec.Replicas)
	diff := len(pods) - want
	if diff == 0 {
		return nil
	}
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: c.src.Component(), Action: "see-diff", Kind: c.kind.Kind,
		Namespace: rs.Namespace, Name: rs.Name,
		Message: fmt.Sprintf("%s %s wants %d pods and has %d", c.kind.Kind, rs.Name, want, len(pods)),
		Says:    stepper.Say("held.rs_wants", want, len(pods)),
		Why:     fmt.Sprintf("its pods' labels match the selector of %d, and spec.replicas says %d", len(pods), want),
		Because: stepper.Say("why.rs_selector", len(pods), want)}); err != nil {
		return err
	}
	if diff < 0 {
		n := min(-diff, c.cfg.BurstReplicas)
		// Expect first: the informer may deliver the new pods before Create returns.
		c.exp.ExpectCreations(key, n)
		created, err := slowStartBatch(n, 1, func() error { return c.createPod(ctx, rs, len(pods), want) })
		// Pods never created will never be observed.
		for range n - created {
			c.exp.CreationObserved(key)
		}
		return err
	}
	n := min(diff, c.cfg.BurstReplicas)
	victims := pickVictims(pods, n)
	keys := make([]string, len(victims))
	for i, p := range victims {
		keys[i] = p.Namespace + "/" + p.Name
	}
	c.exp.ExpectDeletions(key, keys)
	errs := make(chan error, len(victims))
	var wg sync.WaitGroup
	for _, p := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker.Safely(func() error { return c.deletePodFor(ctx, rs, p, len(pods), want) }); err != nil {
				c.exp.DeletionObserved(key, p.Namespace+"/"+p.Name)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// slowStartBatch calls fn count times in doubling batches (1, 2, 4, ...) and stops after
// the first batch with a failure, so a quota or validation error costs one call rather
// than hundreds. It returns how many calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); done < count; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := worker.Safely(fn); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		failed := len(errs)
		done += batch - failed
		if failed > 0 {
			return done, <-errs
		}
	}
	return done, nil
}

// podFromTemplate builds the pod a ReplicaSet (or an object of kind seen as one) creates;
// the API server names it <rs>-xxxxx.
func podFromTemplate(rs *appsv1.ReplicaSet, kind schema.GroupVersionKind) *corev1.Pod {
	t := true
	tmpl := rs.Spec.Template.DeepCopy()
	prefix := rs.Name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    rs.Namespace,
			Labels:       tmpl.Labels,
			Annotations:  tmpl.Annotations,
			Finalizers:   tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: kind.GroupVersion().String(), Kind: kind.Kind,
				Name: rs.Name, UID: rs.UID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: tmpl.Spec,
	}
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet, has, wants int) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: c.src.Component(), Action: "create-pod", Kind: c.kind.Kind,
		Namespace: rs.Namespace, Name: rs.Name,
		Message: fmt.Sprintf("creating a pod for %s %s", c.kind.Kind, rs.Name),
		Why:     fmt.Sprintf("it has %d, wants %d", has, wants), Because: stepper.Say("why.has_wants", has, wants)}); err != nil {
		return err
	}
	pod, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, podFromTemplate(rs, c.kind), metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() == nil {
			c.recorder.Eventf(c.src.EventObject(rs), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(c.src.EventObject(rs), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", pod.Name)
	return nil
}

func (c *Controller) deletePodFor(ctx context.Context, rs *appsv1.ReplicaSet, p *corev1.Pod, has, wants int) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: c.src.Component(), Action: "delete-pod", Kind: "Pod",
		Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName,
		Message: fmt.Sprintf("deleting pod %s of %s %s", p.Name, c.kind.Kind, rs.Name),
		Why:     fmt.Sprintf("it has %d, wants %d", has, wants), Because: stepper.Say("why.has_wants", has, wants)}); err != nil {
		return err
	}
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil // already gone; its deletion will be observed
		}
		if ctx.Err() == nil {
			c.recorder.Eventf(c.src.EventObject(rs), corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		}
		return err
	}
	c.recorder.Eventf(c.src.EventObject(rs), corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}
