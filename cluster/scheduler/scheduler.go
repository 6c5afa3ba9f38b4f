// Package scheduler is webkube's default-scheduler: it watches pods that have no node,
// filters and scores the nodes as kube-scheduler does (readiness, cordon, taints, node
// selector and affinity, resource fit; least allocated and spreading of one owner's pods),
// and binds each pod through the pods/binding subresource, recording Scheduled and
// FailedScheduling events. Each decision is kept for the dashboard.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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

// Name is the schedulerName this scheduler serves.
const Name = corev1.DefaultSchedulerName

// Config configures a Scheduler.
type Config struct {
	Client kubernetes.Interface
	// Informers is shared with other components when given; the scheduler starts it.
	Informers informers.SharedInformerFactory
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
	// Decisions is how many decisions to keep; default 512.
	Decisions int
	// Binders is how many bindings may be in flight at once; default 256 (kube-scheduler
	// binds every pod in its own goroutine; a bound keeps a burst from piling up).
	Binders int
	// Recorder overrides the event recorder (tests).
	Recorder record.EventRecorder
}

// Scheduler assigns pods to nodes.
type Scheduler struct {
	cfg       Config
	client    kubernetes.Interface
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	claims    corelisters.PersistentVolumeClaimLister
	classes   storagelisters.StorageClassLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	cache     *nodeCache
	decisions *ring
	recorder  record.EventRecorder
	bindSem   chan struct{}
	rand      *rand.Rand

	mu            sync.Mutex
	unschedulable map[string]string // pod key -> last FailedScheduling message
}

// New builds a Scheduler; Start runs it.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil {
		return nil, errors.New("scheduler: Client is required")
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
	cfg.Logger = cfg.Logger.With("component", Name)
	if cfg.Decisions <= 0 {
		cfg.Decisions = 512
	}
	if cfg.Binders <= 0 {
		cfg.Binders = 256
	}
	s := &Scheduler{
		cfg:    cfg,
		client: cfg.Client,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "scheduler", Clock: cfg.Clock}),
		cache:         newCache(),
		decisions:     newRing(cfg.Decisions),
		recorder:      cfg.Recorder,
		bindSem:       make(chan struct{}, cfg.Binders),
		rand:          rand.New(rand.NewPCG(uint64(cfg.Clock.Now().UnixNano()), 1)),
		unschedulable: map[string]string{},
	}
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	pvcInf := cfg.Informers.Core().V1().PersistentVolumeClaims()
	scInf := cfg.Informers.Storage().V1().StorageClasses()
	s.pods, s.nodes, s.claims, s.classes = podInf.Lister(), nodeInf.Lister(), pvcInf.Lister(), scInf.Lister()
	s.synced = []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced,
		pvcInf.Informer().HasSynced, scInf.Informer().HasSynced}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, obj any) { s.onPod(obj) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: pod handler: %w", err)
	}
	// A new node, or a claim that appears or gets bound, may let a waiting pod go.
	for _, inf := range []cache.SharedIndexInformer{nodeInf.Informer(), pvcInf.Informer()} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { s.retryUnschedulable() },
			UpdateFunc: func(any, any) { s.retryUnschedulable() },
		}); err != nil {
			return nil, fmt.Errorf("scheduler: handler: %w", err)
		}
	}
	return s, nil
}

// Start runs the scheduler until ctx ends. It returns once caches have synced.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.recorder == nil {
		s.recorder = events.RecorderUntilDone(ctx, s.client, Name)
	}
	s.cfg.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return errors.New("scheduler: caches did not sync")
	}
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	// One scheduling loop, as in kube-scheduler: each decision sees the previous one's
	// assumed pod. Bindings then proceed in parallel.
	go worker.Run(ctx, s.queue, s.scheduleOne, s.cfg.Logger)
	return nil
}

// Decisions returns the kept decisions, oldest first.
func (s *Scheduler) Decisions() []Decision { return s.decisions.all() }

// Decision returns the newest decision about namespace/name.
func (s *Scheduler) Decision(namespace, name string) (Decision, bool) {
	return s.decisions.latest(namespace, name)
}

func responsible(p *corev1.Pod) bool {
	return p.Spec.SchedulerName == "" || p.Spec.SchedulerName == Name
}

func (s *Scheduler) onPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.cache.update(p)
	if p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
		key, _ := cache.MetaNamespaceKeyFunc(p)
		s.mu.Lock()
		delete(s.unschedulable, key)
		s.mu.Unlock()
		return
	}
	if responsible(p) {
		if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
			s.queue.Add(key)
		}
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, _ := cache.MetaNamespaceKeyFunc(p)
	s.mu.Lock()
	delete(s.unschedulable, key)
	s.mu.Unlock()
	s.cache.remove(p.UID)
	if p.Spec.NodeName != "" {
		s.retryUnschedulable() // room was freed
	}
}

// retryUnschedulable requeues every pod that did not fit, since the cluster changed.
func (s *Scheduler) retryUnschedulable() {
	s.mu.Lock()
	keys := make([]string, 0, len(s.unschedulable))
	for k := range s.unschedulable {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.queue.Add(k)
	}
}

func (s *Scheduler) scheduleOne(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil || !responsible(pod) || s.cache.isAssumed(pod.UID) {
		return nil
	}
	if err := s.cfg.Gate.Wait(ctx, stepper.Step{Component: "scheduler", Action: "see-unassigned-pod",
		Kind: "Pod", Namespace: ns, Name: name,
		Message: fmt.Sprintf("pod %s/%s has no node yet", ns, name)}); err != nil {
		return err
	}
	nodes, err := s.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	reason, delayed := s.volumePreFilter(pod)
	var d Decision
	if reason != "" {
		d = Decision{Time: s.cfg.Clock.Now(), Namespace: ns, Name: name, UID: string(pod.UID), Message: volumeFailure(reason, len(nodes))}
	} else {
		d = s.decide(pod, nodes)
	}
	s.decisions.add(d)
	if d.Chosen == "" {
		return s.markUnschedulable(ctx, pod, d.Message)
	}
	if err := s.selectNode(ctx, delayed, d.Chosen); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.unschedulable, key)
	s.mu.Unlock()
	s.cache.assume(pod, d.Chosen)
	s.bindSem <- struct{}{}
	go func() {
		defer func() { <-s.bindSem }()
		err := worker.Safely(func() error { s.bind(ctx, pod, d); return nil })
		if err != nil { // a panic: undo the assumption and try this pod again later
			s.cache.forgetAssumed(pod.UID)
			worker.LogRetry(s.cfg.Logger, key, err)
			s.queue.AddRateLimited(key)
		}
	}()
	return nil
}

// decide filters and scores every node for pod.
func (s *Scheduler) decide(pod *corev1.Pod, nodes []*corev1.Node) Decision {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	snap := s.cache.snapshot(names)
	d := Decision{Time: s.cfg.Clock.Now(), Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID)}
	resolvable := map[string]bool{}
	var feasible []*corev1.Node
	byName := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
		reasons, res := filter(pod, n, snap[n.Name])
		resolvable[n.Name] = res
		r := NodeResult{Node: n.Name, Feasible: len(reasons) == 0, Reasons: reasons}
		d.Nodes = append(d.Nodes, r)
		if r.Feasible {
			feasible = append(feasible, n)
		}
	}
	if len(feasible) == 0 {
		d.Message = failureMessage(d.Nodes, resolvable)
		return d
	}
	owner := ownerUID(pod)
	counts := map[string]int{}
	maxCount := 0
	if owner != "" {
		for _, n := range feasible {
			c := s.cache.ownerCount(n.Name, owner)
			counts[n.Name] = c
			maxCount = max(maxCount, c)
		}
	}
	req := podRequest(pod)
	best, bestScore, ties := "", int64(-1), 0
	for i := range d.Nodes {
		r := &d.Nodes[i]
		if !r.Feasible {
			continue
		}
		n := byName[r.Node]
		u := snap[r.Node]
		la := (leastAllocated(u.nzCPU+req.nzCPU, n.Status.Allocatable.Cpu().MilliValue()) +
			leastAllocated(u.nzMem+req.nzMem, n.Status.Allocatable.Memory().Value())) / 2
		spread := int64(100)
		if maxCount > 0 {
			spread = int64(100 * (maxCount - counts[r.Node]) / maxCount)
		}
		r.Scores = map[string]int64{"NodeResourcesLeastAllocated": la, "PodTopologySpread": spread}
		r.Score = la + spread
		// Ties are broken at random, like kube-scheduler's selectHost (reservoir sampling).
		switch {
		case r.Score > bestScore:
			best, bestScore, ties = r.Node, r.Score, 1
		case r.Score == bestScore:
			ties++
			if s.rand.IntN(ties) == 0 {
				best = r.Node
			}
		}
	}
	d.Chosen = best
	d.Message = fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, best)
	return d
}

func leastAllocated(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * 100 / capacity
}

func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, d Decision) {
	node := d.Chosen
	err := s.cfg.Gate.Wait(ctx, stepper.Step{Component: "scheduler", Action: "bind", Kind: "Pod",
		Namespace: pod.Namespace, Name: pod.Name, Node: node,
		Message: fmt.Sprintf("binding %s/%s to %s", pod.Namespace, pod.Name, node), Why: d.Why(), Because: d.Because()})
	if err == nil {
		err = s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		s.cache.forgetAssumed(pod.UID)
		if ctx.Err() != nil || apierrors.IsNotFound(err) {
			return
		}
		s.cfg.Logger.Warn("bind", "pod", pod.Namespace+"/"+pod.Name, "node", node, "err", err)
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		key, _ := cache.MetaNamespaceKeyFunc(pod)
		s.queue.AddRateLimited(key)
		return
	}
	s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// markUnschedulable records the failure once per distinct message, both as an Event and
// as the pod's PodScheduled=False condition (what `kubectl describe pod` shows). The pod
// is remembered for a retry when nodes change; if the write fails (or panics) the
// message is forgotten, so the retry writes it again.
func (s *Scheduler) markUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	key, _ := cache.MetaNamespaceKeyFunc(pod)
	s.mu.Lock()
	prev, seen := s.unschedulable[key]
	s.unschedulable[key] = msg
	s.mu.Unlock()
	if seen && prev == msg {
		return nil
	}
	written := false
	defer func() {
		if !written {
			s.mu.Lock()
			if s.unschedulable[key] == msg {
				s.unschedulable[key] = ""
			}
			s.mu.Unlock()
		}
	}()
	p := pod.DeepCopy()
	now := metav1.NewTime(s.cfg.Clock.Now())
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: now}
	replaced := false
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			p.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	_, err := s.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pod condition: %w", err)
	}
	written = true
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	return nil
}
