// Package simnode is a simulated node, in the spirit of kwok: it registers a Node, keeps it
// Ready with heartbeats, and turns the pods bound to it Running and Ready without starting any
// container. Controller and scheduler tests and benchmarks use it where containerd would be
// too slow or unavailable.
package simnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
	"webkube/internal/podstatus"
	"webkube/runtime/nodelease"
)

// Config describes one simulated node.
type Config struct {
	Client kubernetes.Interface
	Name   string
	CPU    string // capacity, e.g. "4" or "3500m"; default "4"
	Memory string // capacity, e.g. "8Gi"; default "8Gi"
	Pods   int    // max pods; default 110
	Labels map[string]string
	Taints []corev1.Taint
	// PodCIDR is where pod IPs come from; default a /16 in 10.200.0.0/8 derived from Name.
	PodCIDR string
	// Heartbeat is how often the Ready condition is renewed; default 10s.
	Heartbeat time.Duration
	Workers   int // pod status workers; default 8
	Gate      *stepper.Gate
	Clock     clock.WithTicker
	Logger    *slog.Logger
}

// Node is a running simulated node.
type Node struct {
	cfg      Config
	capacity corev1.ResourceList
	hostIP   string
	queue    workqueue.TypedRateLimitingInterface[string]
	pods     corelisters.PodLister
	informer cache.SharedIndexInformer

	mu     sync.Mutex
	nextIP netip.Addr
	prefix netip.Prefix
	ips    map[types.UID]string
}

// New validates cfg and returns a node that is not yet registered.
func New(cfg Config) (*Node, error) {
	if cfg.Client == nil {
		return nil, errors.New("simnode: Client is required")
	}
	if cfg.Name == "" {
		return nil, errors.New("simnode: Name is required")
	}
	if cfg.CPU == "" {
		cfg.CPU = "4"
	}
	if cfg.Memory == "" {
		cfg.Memory = "8Gi"
	}
	if cfg.Pods == 0 {
		cfg.Pods = 110
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "simnode", "node", cfg.Name)
	cpu, err := resource.ParseQuantity(cfg.CPU)
	if err != nil {
		return nil, fmt.Errorf("simnode: cpu %q: %w", cfg.CPU, err)
	}
	mem, err := resource.ParseQuantity(cfg.Memory)
	if err != nil {
		return nil, fmt.Errorf("simnode: memory %q: %w", cfg.Memory, err)
	}
	h := fnv.New32a()
	h.Write([]byte(cfg.Name))
	sum := h.Sum32()
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = fmt.Sprintf("10.%d.0.0/16", 200+sum%50)
	}
	prefix, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("simnode: pod cidr: %w", err)
	}
	var host [4]byte
	binary.BigEndian.PutUint32(host[:], 0xac1e0000|(sum&0xfffe)+1) // 172.30.x.y
	n := &Node{
		cfg: cfg,
		capacity: corev1.ResourceList{
			corev1.ResourceCPU:    cpu,
			corev1.ResourceMemory: mem,
			corev1.ResourcePods:   *resource.NewQuantity(int64(cfg.Pods), resource.DecimalSI),
		},
		hostIP: netip.AddrFrom4(host).String(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "simnode-" + cfg.Name}),
		prefix: prefix.Masked(),
		nextIP: prefix.Masked().Addr().Next(),
		ips:    map[types.UID]string{},
	}
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Start registers the Node, starts heartbeats and the pod workers, and returns once the
// node is Ready and its pod cache synced. Everything stops when ctx ends.
func (n *Node) Start(ctx context.Context) error {
	if err := n.register(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(n.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", n.cfg.Name).String()
		}))
	podInf := factory.Core().V1().Pods()
	n.pods = podInf.Lister()
	n.informer = podInf.Informer()
	_, err := n.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    n.enqueue,
		UpdateFunc: func(_, obj any) { n.enqueue(obj) },
		DeleteFunc: n.forget,
	})
	if err != nil {
		return fmt.Errorf("simnode: handler: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), n.informer.HasSynced) {
		return fmt.Errorf("simnode %s: pod cache did not sync", n.cfg.Name)
	}
	go func() {
		<-ctx.Done()
		n.queue.ShutDown()
	}()
	for range n.cfg.Workers {
		go worker.Run(ctx, n.queue, n.syncPod, n.cfg.Logger)
	}
	go n.heartbeat(ctx)
	lease, err := nodelease.New(nodelease.Config{Client: n.cfg.Client, NodeName: n.cfg.Name,
		Renew: n.cfg.Heartbeat, Clock: n.cfg.Clock, Logger: n.cfg.Logger})
	if err != nil {
		return fmt.Errorf("simnode: %w", err)
	}
	lease.Start(ctx)
	return nil
}

func (n *Node) readyCondition(now metav1.Time) corev1.NodeCondition {
	return corev1.NodeCondition{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: now, LastTransitionTime: now,
		Reason: "KubeletReady", Message: "simulated kubelet is posting ready status",
	}
}

func (n *Node) register(ctx context.Context) error {
	now := metav1.NewTime(n.cfg.Clock.Now())
	labels := map[string]string{
		"kubernetes.io/hostname": n.cfg.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "simulated",
	}
	for k, v := range n.cfg.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.cfg.Name, Labels: labels,
			Annotations: map[string]string{"webkube.io/simulated": "true"}},
		Spec: corev1.NodeSpec{PodCIDR: n.cfg.PodCIDR, PodCIDRs: []string{n.cfg.PodCIDR}, Taints: n.cfg.Taints},
	}
	created, err := n.cfg.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = n.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("simnode: register %s: %w", n.cfg.Name, err)
	}
	node = created.DeepCopy()
	node.Status = corev1.NodeStatus{
		Capacity:    n.capacity,
		Allocatable: n.capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions:  []corev1.NodeCondition{n.readyCondition(now)},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.hostIP},
			{Type: corev1.NodeHostName, Address: n.cfg.Name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: "v1.32.3", OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "simulated://1.0", OSImage: "webkube simulated node",
		},
	}
	if _, err := n.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("simnode: status %s: %w", n.cfg.Name, err)
	}
	n.cfg.Logger.Info("registered node", "cpu", n.cfg.CPU, "memory", n.cfg.Memory, "pods", n.cfg.Pods)
	return nil
}

func (n *Node) heartbeat(ctx context.Context) {
	t := n.cfg.Clock.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		node, err := n.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Deleted under us (`kubectl delete node`): register again, as a kubelet does.
			if err := n.register(ctx); err != nil && ctx.Err() == nil {
				n.cfg.Logger.Warn("re-register", "err", err)
			}
			continue
		}
		if err != nil {
			n.cfg.Logger.Warn("heartbeat", "err", err)
			continue
		}
		node = node.DeepCopy()
		now := metav1.NewTime(n.cfg.Clock.Now())
		found := false
		for i := range node.Status.Conditions {
			c := &node.Status.Conditions[i]
			if c.Type == corev1.NodeReady {
				found = true
				c.LastHeartbeatTime = now
				if c.Status != corev1.ConditionTrue {
					*c = n.readyCondition(now)
				}
			}
		}
		if !found {
			node.Status.Conditions = append(node.Status.Conditions, n.readyCondition(now))
		}
		if _, err := n.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			n.cfg.Logger.Warn("heartbeat", "err", err)
		}
	}
}

func (n *Node) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		n.queue.Add(key)
	}
}

func (n *Node) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		n.mu.Lock()
		delete(n.ips, p.UID)
		n.mu.Unlock()
	}
}

// syncPod brings one pod to the state a healthy kubelet would report.
func (n *Node) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := n.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName != n.cfg.Name {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		// Nothing runs, so termination is immediate: confirm with grace 0, like a kubelet
		// whose containers have all exited.
		if err := n.cfg.Gate.Wait(ctx, stepper.Step{Component: "kubelet/" + n.cfg.Name, Action: "delete-pod",
			Kind: "Pod", Namespace: ns, Name: name, Node: n.cfg.Name,
			Message: fmt.Sprintf("removing terminated pod %s/%s from %s", ns, name, n.cfg.Name)}); err != nil {
			return err
		}
		zero := int64(0)
		err := n.cfg.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if pod.Status.Phase == corev1.PodRunning && podstatus.Ready(pod) {
		return nil
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	if err := n.cfg.Gate.Wait(ctx, stepper.Step{Component: "kubelet/" + n.cfg.Name, Action: "report-status",
		Kind: "Pod", Namespace: ns, Name: name, Node: n.cfg.Name,
		Message: fmt.Sprintf("reporting %s/%s Running on %s", ns, name, n.cfg.Name)}); err != nil {
		return err
	}
	p := pod.DeepCopy()
	n.setRunning(p)
	_, err = n.cfg.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		n.queue.Add(key) // a newer version is coming through the informer
		return nil
	}
	return err
}

func (n *Node) podIP(uid types.UID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, ok := n.ips[uid]; ok {
		return ip
	}
	ip := n.nextIP
	n.nextIP = ip.Next()
	if !n.prefix.Contains(n.nextIP) {
		n.nextIP = n.prefix.Addr().Next()
	}
	n.ips[uid] = ip.String()
	return ip.String()
}

func (n *Node) setRunning(p *corev1.Pod) {
	now := metav1.NewTime(n.cfg.Clock.Now())
	ip := p.Status.PodIP
	if ip == "" {
		ip = n.podIP(p.UID)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.HostIP = n.hostIP
	p.Status.HostIPs = []corev1.HostIP{{IP: n.hostIP}}
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if p.Status.StartTime == nil {
		p.Status.StartTime = &now
	}
	p.Status.QOSClass = qosClass(p)
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		setCondition(p, t, now)
	}
	statuses := make([]corev1.ContainerStatus, 0, len(p.Spec.Containers))
	for _, c := range p.Spec.Containers {
		started := true
		statuses = append(statuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "simulated://" + c.Image,
			ContainerID: fmt.Sprintf("simulated://%s-%s", p.UID, c.Name),
			Ready:       true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	p.Status.ContainerStatuses = statuses
}

func setCondition(p *corev1.Pod, t corev1.PodConditionType, now metav1.Time) {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type == t {
			if c.Status != corev1.ConditionTrue {
				c.Status, c.LastTransitionTime, c.Reason, c.Message = corev1.ConditionTrue, now, "", ""
			}
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
}

func qosClass(p *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range p.Spec.Containers {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			any = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, ok := c.Resources.Limits[r]
			if !ok {
				guaranteed = false
				continue
			}
			if q, ok := c.Resources.Requests[r]; ok && q.Cmp(l) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
