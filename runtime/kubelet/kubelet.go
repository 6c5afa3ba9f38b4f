// Package kubelet is webkube's node agent. Like the real kubelet it is a client of the
// API server: it registers its Node and keeps it Ready, watches the pods bound to it,
// runs their containers on containerd with a CNI network, probes them, and reports
// their status back. Logs and exec are served on its own HTTP port, where the API
// server proxies kubectl's pods/log and pods/exec.
package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/events"
	"webkube/cluster/controllers/worker"
	"webkube/cluster/stepper"
	"webkube/runtime/cni"
	"webkube/runtime/containers"
	"webkube/runtime/images"
	"webkube/runtime/kubeletserver"
	"webkube/runtime/nodelease"
	"webkube/runtime/stats"
)

// Version is what the Node reports as its kubelet version.
const Version = "v1.32.3"

// Config configures a Kubelet.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// Runtime, Images and Network are this node's containerd containers, images and CNI.
	Runtime *containers.Runtime
	Images  *images.Service
	Network *cni.Manager
	// ServerAddr is where logs and exec are served (host:port; port 0 picks one). The
	// Node's InternalIP and kubelet endpoint port point the API server at it.
	ServerAddr string
	// ServerCert is the kubelet's serving certificate and ClientCAs the CA of the API
	// server's client certificate: logs and exec answer only the API server.
	ServerCert tls.Certificate
	ClientCAs  *x509.CertPool
	// RuntimeVersion is shown by `kubectl get nodes -o wide`, e.g. "containerd://1.6.20".
	RuntimeVersion string
	// RuntimeHealthy reports whether containerd answers; the Node turns NotReady if not.
	// It is called every RuntimeCheck (default 1s).
	RuntimeHealthy func(ctx context.Context) error
	RuntimeCheck   time.Duration
	// SweepInterval is how often containers, networks and shims no pod owns are removed;
	// default 1m.
	SweepInterval time.Duration
	Gate          *stepper.Gate
	Clock         clock.WithTicker
	Logger        *slog.Logger
	Heartbeat     time.Duration // default 10s
	Workers       int           // default 8
	// MaxPods is the node's pod capacity; default 110.
	MaxPods int
	// Recorder overrides the event recorder (tests).
	Recorder record.EventRecorder
}

// Kubelet runs the pods of one node.
type Kubelet struct {
	cfg      Config
	log      *slog.Logger
	rec      record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	pods     listersv1.PodLister
	synced   cache.InformerSynced
	informer informers.SharedInformerFactory
	server   *http.Server
	port     int

	mu    sync.Mutex
	state map[string]*podState // by namespace/name

	rates   stats.Rates   // CPU rates between /stats/summary requests
	kick    chan struct{} // asks the heartbeat for a node status now
	rtMu    sync.Mutex
	rtErr   error     // why the container runtime was down at the last check
	rtSince time.Time // when it went down
}

// New checks cfg; nothing runs until Start.
func New(cfg Config) (*Kubelet, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("kubelet: Client is required")
	case cfg.NodeName == "":
		return nil, errors.New("kubelet: NodeName is required")
	case cfg.Runtime == nil || cfg.Images == nil || cfg.Network == nil:
		return nil, errors.New("kubelet: Runtime, Images and Network are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.RuntimeCheck == 0 {
		cfg.RuntimeCheck = time.Second
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = 110
	}
	if cfg.ServerAddr == "" {
		cfg.ServerAddr = "127.0.0.1:0"
	}
	if cfg.RuntimeVersion == "" {
		cfg.RuntimeVersion = "containerd://unknown"
	}
	k := &Kubelet{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "kubelet", "node", cfg.NodeName),
		state: map[string]*podState{},
		kick:  make(chan struct{}, 1),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubelet-" + cfg.NodeName}),
	}
	return k, nil
}

// Port is the port logs and exec are served on (after Start).
func (k *Kubelet) Port() int { return k.port }

// Start serves logs/exec, registers the Node, and runs the pod workers until ctx ends.
func (k *Kubelet) Start(ctx context.Context) error {
	if k.cfg.Recorder != nil {
		k.rec = k.cfg.Recorder
	} else {
		rec, stop := events.NewRecorder(ctx, k.cfg.Client, "kubelet")
		k.rec = rec
		go func() { <-ctx.Done(); stop() }()
	}
	srv, err := kubeletserver.New(kubeletserver.Config{Lookup: kubeletserver.LookupFunc(k.lookup), Runtime: k.cfg.Runtime, Logger: k.log, Stats: k,
		Dialer:      podDialer{k},
		Certificate: k.cfg.ServerCert, ClientCAs: k.cfg.ClientCAs})
	if err != nil {
		return err
	}
	ln, err := srv.Listen(k.cfg.ServerAddr)
	if err != nil {
		return fmt.Errorf("kubelet: serve: %w", err)
	}
	k.port = ln.Addr().(*net.TCPAddr).Port
	k.server = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.server.Serve(ln) }()
	go func() { <-ctx.Done(); _ = k.server.Close() }()

	k.rtErr = k.probeRuntime(ctx)
	if err := k.register(ctx); err != nil {
		return err
	}
	go k.heartbeat(ctx)
	if err := k.startLease(ctx); err != nil {
		return err
	}

	k.informer = informers.NewSharedInformerFactoryWithOptions(k.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	inf := k.informer.Core().V1().Pods()
	k.pods = inf.Lister()
	k.synced = inf.Informer().HasSynced
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: k.enqueue,
		UpdateFunc: func(o, n any) {
			// Our own status writes come back as updates; only other changes need a sync
			// (the kubelet's own timers and container exits wake it otherwise).
			op, np := o.(*corev1.Pod), n.(*corev1.Pod)
			if op.Generation == np.Generation && op.DeletionTimestamp.Equal(np.DeletionTimestamp) &&
				apiequality.Semantic.DeepEqual(op.Spec, np.Spec) && apiequality.Semantic.DeepEqual(op.Labels, np.Labels) {
				return
			}
			k.enqueue(n)
		},
		DeleteFunc: k.enqueue,
	}); err != nil {
		return err
	}
	k.informer.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), k.synced) {
		return fmt.Errorf("kubelet: pod cache did not sync")
	}
	// Containers that outlived a webkube restart belong to pods we now know (reattached
	// by the runtime) or to pods deleted meanwhile (cleaned up here).
	k.cleanupOrphans(ctx)
	for i := 0; i < k.cfg.Workers; i++ {
		go k.worker(ctx)
	}
	go func() { <-ctx.Done(); k.queue.ShutDown() }()
	go k.resync(ctx)
	go k.watchRuntime(ctx)
	go k.sweep(ctx)
	return nil
}

// OnContainerExit is given to containers.Config.OnExit so exits are acted on at once.
func (k *Kubelet) OnContainerExit(s containers.Status) {
	k.queue.Add(s.Namespace + "/" + s.PodName)
}

func (k *Kubelet) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		k.queue.Add(key)
	}
}

// resync requeues every pod now and then, as a safety net for missed wake-ups.
func (k *Kubelet) resync(ctx context.Context) {
	t := k.cfg.Clock.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		pods, _ := k.pods.List(everything)
		for _, p := range pods {
			k.enqueue(p)
		}
	}
}

func (k *Kubelet) worker(ctx context.Context) {
	worker.Run(ctx, k.queue, k.syncPod, k.log)
}

// lookup resolves a pod's container for logs and exec: the running instance, or the
// newest one.
func (k *Kubelet) lookup(ctx context.Context, namespace, name, container string) (string, error) {
	pod, err := k.pods.Pods(namespace).Get(name)
	if err != nil {
		return "", apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	list, err := k.cfg.Runtime.List(ctx, string(pod.UID))
	if err != nil {
		return "", err
	}
	var best *containers.Status
	for i := range list {
		s := &list[i]
		if s.Name != container {
			continue
		}
		if best == nil || s.RestartCount > best.RestartCount {
			best = s
		}
	}
	if best == nil {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name))
	}
	return best.ID, nil
}

// podDialer reaches a pod's port for port-forward, from inside the pod's network
// namespace (cni.Dial).
type podDialer struct{ k *Kubelet }

func (d podDialer) DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error) {
	pod, err := d.k.pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	// The network's record on disk, not the pod worker's state, which only its worker reads.
	nws, err := d.k.cfg.Network.List(ctx)
	if err != nil {
		return nil, err
	}
	nsPath := ""
	for _, nw := range nws {
		if nw.PodUID == string(pod.UID) {
			nsPath = nw.NetnsPath
		}
	}
	if nsPath == "" {
		return nil, fmt.Errorf("pod %s/%s has no network yet", namespace, name)
	}
	return cni.Dial(ctx, nsPath, port)
}

var everything = labels.Everything()

// --- Node ---

func (k *Kubelet) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Labels: map[string]string{
		"kubernetes.io/hostname": k.cfg.NodeName,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     runtime.GOARCH,
	}}}
	if _, err := k.cfg.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubelet: register node %s: %w", k.cfg.NodeName, err)
	}
	if err := k.updateNodeStatus(ctx); err != nil {
		return fmt.Errorf("kubelet: node status %s: %w", k.cfg.NodeName, err)
	}
	k.log.Info("registered node", "port", k.port)
	return nil
}

// startLease keeps the node's Lease in kube-node-lease renewed every Heartbeat, as the
// kubelet's node lease controller does.
func (k *Kubelet) startLease(ctx context.Context) error {
	r, err := nodelease.New(nodelease.Config{Client: k.cfg.Client, NodeName: k.cfg.NodeName,
		Renew: k.cfg.Heartbeat, Clock: k.cfg.Clock, Logger: k.log})
	if err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	r.Start(ctx)
	return nil
}

func (k *Kubelet) heartbeat(ctx context.Context) {
	k.every(ctx, k.cfg.Heartbeat, k.kick, func() {
		if err := k.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("node heartbeat", "err", err)
		}
	})
}

// every runs f on each tick of the kubelet's clock (and on each kick, when kick is not
// nil) until ctx ends: the heartbeat, the runtime check and the orphan sweep.
func (k *Kubelet) every(ctx context.Context, interval time.Duration, kick <-chan struct{}, f func()) {
	t := k.cfg.Clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-kick:
		}
		f()
	}
}

func (k *Kubelet) updateNodeStatus(ctx context.Context) error {
	node, err := k.cfg.Client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	node = node.DeepCopy()
	now := metav1.NewTime(k.cfg.Clock.Now())
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}
	if err := k.runtimeErr(); err != nil {
		ready.Status, ready.Reason = corev1.ConditionFalse, "KubeletNotReady"
		ready.Message = "container runtime is down: " + err.Error()
	}
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		ready,
	}
	for i := range conds {
		c := &conds[i]
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		for _, old := range node.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(hostMemory(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(k.cfg.MaxPods), resource.DecimalSI),
	}
	hostname, _ := os.Hostname()
	node.Status.Capacity = capacity
	node.Status.Allocatable = capacity.DeepCopy()
	node.Status.Conditions = conds
	node.Status.Phase = corev1.NodeRunning
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
		{Type: corev1.NodeHostName, Address: k.cfg.NodeName},
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(k.port)
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		KubeletVersion: Version, KubeProxyVersion: Version, OperatingSystem: "linux", Architecture: runtime.GOARCH,
		ContainerRuntimeVersion: k.cfg.RuntimeVersion, OSImage: osImage(), KernelVersion: kernelVersion(),
		MachineID: hostname,
	}
	_, err = k.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

func hostMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 8 << 30
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb * 1024
			}
		}
	}
	return 8 << 30
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "linux"
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
