// Package serviceproxy is webkube's kube-proxy: it makes every Service's ClusterIP:port
// (and NodePort) reach one ready endpoint per connection, round robin or sticky per client
// IP for sessionAffinity ClientIP. It follows the Endpoints the endpoints controller
// writes, so a pod that turns unready stops getting new connections as soon as its
// Endpoints entry moves to notReadyAddresses, while connections in flight run to their end.
//
// Each ClusterIP is made a local address (on webkube's service interface, see
// ServiceInterface): pods reach it through their default route to the host. A connection
// to a port with no ready endpoint is reset at once, never left hanging. Two modes, chosen
// by measuring
// (BenchmarkProxyVsDirect):
//
//   - ModeIPTables: NAT rules as kube-proxy's iptables mode writes them; the kernel picks
//     the endpoint and rewrites the destination. Throughput as direct.
//   - ModeUserspace: Go listens on ClusterIP:port and relays each connection, with
//     splice(2) between the two sockets. Needs no iptables, retries an endpoint that
//     refuses, and counts bytes; costs a second hop through user space.
package serviceproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
)

// AddressBinder makes ClusterIPs local addresses of this host so the proxy can listen on
// them. ServiceInterface is the real one; nil means the addresses are already local (tests
// use 127.0.0.0/8 ClusterIPs).
type AddressBinder interface {
	AddAddress(ip string) error
	RemoveAddress(ip string) error
}

// Config configures a Proxier.
type Config struct {
	Client kubernetes.Interface // required
	// Informers lets the caller share one informer cache with other components; default a
	// new one owned by the Proxier.
	Informers informers.SharedInformerFactory
	// NodeAddress is the host address NodePort (and LoadBalancer) Services listen on,
	// e.g. "0.0.0.0" or "127.0.0.1". Empty: no NodePorts.
	NodeAddress string
	Addresses   AddressBinder // optional, see AddressBinder
	// KeepAddresses are addresses on the Addresses interface that are not ClusterIPs of
	// this proxy's but must stay (the cluster DNS address). Every other address the
	// interface holds after the first full sync is a leftover and is removed, when the
	// binder can list its addresses.
	KeepAddresses []string
	Clock         clock.PassiveClock // optional; for session affinity timeouts
	Logger        *slog.Logger       // optional
	DialTimeout   time.Duration      // to an endpoint; default 2 s
	// Mode is ModeUserspace (default) or ModeIPTables.
	Mode Mode
	// NetNS runs the iptables commands of ModeIPTables inside this named network
	// namespace (`ip netns exec`); tests use it to keep their rules off the host.
	NetNS string
	// Instance names this proxier's iptables chains (hashed into a few chars of each
	// chain name), so several webkubes on one host keep apart: each writes, syncs and
	// removes only its own chains and jump rules. Stable across restarts of the same
	// webkube (e.g. its bridge prefix), at most 32 chars; default DefaultInstance.
	Instance string
}

// Proxier relays Service traffic to endpoints.
type Proxier struct {
	client      kubernetes.Interface
	nodeAddress string
	binder      AddressBinder
	keepAddrs   []string
	clock       clock.PassiveClock
	log         *slog.Logger
	dialTimeout time.Duration
	dialer      net.Dialer
	kernel      *iptablesProxier // nil in userspace mode

	factory   informers.SharedInformerFactory
	ownInf    bool
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	hasSynced []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]

	ctx  context.Context
	done chan struct{}
	live conns

	mu    sync.Mutex
	state map[string]*serviceState // by ns/name
}

type serviceState struct {
	clusterIP string // bound through the AddressBinder, "" if none
	frontends map[string]*frontend
}

// New builds a Proxier; Start runs it.
func New(cfg Config) (*Proxier, error) {
	if cfg.Client == nil {
		return nil, errors.New("serviceproxy: Config.Client is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.NodeAddress != "" && net.ParseIP(cfg.NodeAddress).To4() == nil {
		return nil, fmt.Errorf("serviceproxy: NodeAddress %q is not an IPv4 address", cfg.NodeAddress)
	}
	if cfg.Instance == "" {
		cfg.Instance = DefaultInstance
	}
	if len(cfg.Instance) > maxInstanceLen || strings.ContainsFunc(cfg.Instance, func(r rune) bool { return r <= ' ' || r == '"' || r > '~' }) {
		return nil, fmt.Errorf("serviceproxy: Instance %q: want at most %d printable ASCII chars, no spaces or quotes", cfg.Instance, maxInstanceLen)
	}
	var kernel *iptablesProxier
	switch cfg.Mode {
	case "", ModeUserspace:
	case ModeIPTables:
		var err error
		if kernel, err = newIPTablesProxier(cfg.Instance, cfg.NetNS, cfg.Clock); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("serviceproxy: unknown Mode %q", cfg.Mode)
	}
	f, own := cfg.Informers, false
	if f == nil {
		f, own = informers.NewSharedInformerFactory(cfg.Client, 0), true
	}
	p := &Proxier{
		kernel:      kernel,
		ownInf:      own,
		client:      cfg.Client,
		nodeAddress: cfg.NodeAddress,
		binder:      cfg.Addresses,
		keepAddrs:   cfg.KeepAddresses,
		clock:       cfg.Clock,
		log:         cfg.Logger.With("component", "service-proxy"),
		dialTimeout: cfg.DialTimeout,
		factory:     f,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "service-proxy"}),
		done:  make(chan struct{}),
		live:  conns{m: map[*net.TCPConn]struct{}{}},
		state: map[string]*serviceState{},
	}
	svcInf, epInf := f.Core().V1().Services(), f.Core().V1().Endpoints()
	p.services, p.endpoints = svcInf.Lister(), epInf.Lister()
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    p.enqueue,
		UpdateFunc: func(_, n any) { p.enqueue(n) },
		DeleteFunc: p.enqueue,
	}
	if _, err := svcInf.Informer().AddEventHandler(h); err != nil {
		return nil, fmt.Errorf("serviceproxy: watch services: %w", err)
	}
	if _, err := epInf.Informer().AddEventHandler(h); err != nil {
		return nil, fmt.Errorf("serviceproxy: watch endpoints: %w", err)
	}
	p.hasSynced = []cache.InformerSynced{svcInf.Informer().HasSynced, epInf.Informer().HasSynced}
	return p, nil
}

// Start starts following Services and Endpoints and returns once the caches are synced
// (Services are being opened then). When ctx ends it closes every listener and
// connection and releases the ClusterIPs it bound; Done is closed after that.
func (p *Proxier) Start(ctx context.Context) error {
	p.ctx = ctx
	if ip := net.ParseIP(p.nodeAddress); p.kernel != nil && ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		if err := p.kernel.enableLocalnet(); err != nil {
			close(p.done)
			return fmt.Errorf("serviceproxy: %w", err)
		}
	}
	p.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.hasSynced...) {
		close(p.done)
		return fmt.Errorf("serviceproxy: caches did not sync: %w", ctx.Err())
	}
	p.initialSync()
	p.pruneAddresses()
	// One worker: syncs touch shared listener state and are cheap.
	go worker.Run(ctx, p.queue, func(_ context.Context, key string) error { return p.sync(key) }, p.log)
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
		if p.ownInf {
			p.factory.Shutdown()
		}
		p.shutdown()
		close(p.done)
	}()
	return nil
}

// initialSync syncs every Service in the caches before the first rule is written, so a
// restarted webkube replaces the rules its predecessor left (still serving) with the
// complete set in one step. Failures are left to the queue's retries: every Service is
// queued by the informers anyway.
func (p *Proxier) initialSync() {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return
	}
	if p.kernel != nil {
		p.kernel.hold()
	}
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		if err := worker.Safely(func() error { return p.sync(key) }); err != nil {
			worker.LogRetry(p.log, key, err)
		}
	}
	if p.kernel != nil {
		if err := p.kernel.release(); err != nil {
			p.log.Warn("write rules", "err", err)
		}
	}
}

// addressLister is the part of ServiceInterface pruneAddresses needs.
type addressLister interface {
	Addresses() ([]string, error)
}

// pruneAddresses removes, after the first full sync, the addresses a previous webkube left
// on the interface for Services that are gone. It keeps every ClusterIP a Service still
// has (even one whose sync is being retried) and Config.KeepAddresses.
func (p *Proxier) pruneAddresses() {
	lister, ok := p.binder.(addressLister)
	if !ok {
		return
	}
	have, err := lister.Addresses()
	if err != nil {
		p.log.Warn("list cluster IPs", "err", err)
		return
	}
	keep := map[string]bool{}
	for _, a := range p.keepAddrs {
		keep[a] = true
	}
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		for _, ip := range svc.Spec.ClusterIPs {
			keep[ip] = true
		}
		keep[svc.Spec.ClusterIP] = true
	}
	for _, a := range have {
		if keep[a] {
			continue
		}
		if err := p.binder.RemoveAddress(a); err != nil {
			p.log.Warn("remove stale cluster IP", "ip", a, "err", err)
		}
	}
}

// Done is closed once the Proxier has stopped and cleaned up after its context ended.
func (p *Proxier) Done() <-chan struct{} { return p.done }

func (p *Proxier) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	p.queue.Add(key)
}

// ProxyNameLabel on a Service tells the proxy to leave it to another proxy, as it tells
// kube-proxy. webkube's cluster DNS sets it on kube-system/kube-dns, which it serves itself.
const ProxyNameLabel = "service.kubernetes.io/service-proxy-name"

// defaultAffinityTimeout is Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds.
const defaultAffinityTimeout = 10800 * time.Second

type endpointAddr struct{ addr, pod string }

// sync makes the listeners and endpoint lists of one Service match the caches.
func (p *Proxier) sync(key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := p.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		p.teardown(key)
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := svc.Labels[ProxyNameLabel]; ok {
		p.teardown(key) // served by something else, e.g. the cluster DNS on its own ClusterIP
		return nil
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || net.ParseIP(ip).To4() == nil {
		p.teardown(key) // headless (or not yet allocated): nothing to proxy
		return nil
	}
	ep, err := p.endpoints.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	affinity := time.Duration(0)
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.state[key]
	if st != nil && st.clusterIP != ip {
		p.teardownLocked(key) // the ClusterIP changed (delete and re-create under the same name)
		st = nil
	}
	if st == nil {
		if p.binder != nil {
			if err := p.binder.AddAddress(ip); err != nil {
				return fmt.Errorf("bind cluster IP %s: %w", ip, err)
			}
		}
		st = &serviceState{clusterIP: ip, frontends: map[string]*frontend{}}
		p.state[key] = st
	}
	if p.kernel != nil {
		return p.kernel.update(key, p.kernelPorts(svc, ep, affinity))
	}
	want := map[string]bool{}
	var errs []error
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue // UDP/SCTP Services are not proxied
		}
		want[sp.Name] = true
		clusterAddr := net.JoinHostPort(ip, strconv.Itoa(int(sp.Port)))
		nodeAddr := ""
		if (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) && sp.NodePort != 0 && p.nodeAddress != "" {
			nodeAddr = net.JoinHostPort(p.nodeAddress, strconv.Itoa(int(sp.NodePort)))
		}
		f := st.frontends[sp.Name]
		if f == nil || f.clusterAddr != clusterAddr || f.nodeAddr != nodeAddr {
			bal := newBalancer(p.clock)
			if f != nil {
				f.close()
				bal = f.bal // keep the counters across a port change
			}
			f = &frontend{name: key + ":" + portLabel(sp), port: sp.Name, clusterAddr: clusterAddr, nodeAddr: nodeAddr, bal: bal, p: p}
		}
		f.bal.set(endpointsFor(ep, sp), affinity)
		st.frontends[sp.Name] = f
		// Opens what is missing; a failure is retried with the queue's backoff.
		if err := f.listen(); err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", portLabel(sp), err))
		}
	}
	for name, f := range st.frontends {
		if !want[name] {
			f.close()
			delete(st.frontends, name)
		}
	}
	return errors.Join(errs...)
}

// kernelPorts is the rule input for a Service's TCP ports.
func (p *Proxier) kernelPorts(svc *corev1.Service, ep *corev1.Endpoints, affinity time.Duration) []kport {
	out := []kport{}
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		kp := kport{svcPort: sp.Name, clusterIP: svc.Spec.ClusterIP, port: sp.Port, endpoints: endpointsFor(ep, sp), affinity: affinity}
		if (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) && sp.NodePort != 0 && p.nodeAddress != "" {
			kp.nodeAddr, kp.nodePort = p.nodeAddress, sp.NodePort
		}
		out = append(out, kp)
	}
	return out
}

func portLabel(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}

// Endpoint is one ready address (ip:port) serving a Service port, with its pod's name.
type Endpoint struct{ Addr, Pod string }

// ReadyEndpoints lists the ready addresses serving Service port sp, chosen as the proxy
// chooses them (the Endpoints' port of the same name and protocol), sorted; the ingress
// controller routes to these too.
func ReadyEndpoints(ep *corev1.Endpoints, sp corev1.ServicePort) []Endpoint {
	var out []Endpoint
	for _, a := range endpointsFor(ep, sp) {
		out = append(out, Endpoint{Addr: a.addr, Pod: a.pod})
	}
	return out
}

// endpointsFor lists the ready addresses serving one Service port, matched by port name
// as kube-proxy does.
func endpointsFor(ep *corev1.Endpoints, sp corev1.ServicePort) []endpointAddr {
	if ep == nil {
		return nil
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	var out []endpointAddr
	for _, ss := range ep.Subsets {
		for _, port := range ss.Ports {
			pp := port.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if port.Name != sp.Name || pp != proto {
				continue
			}
			for _, a := range ss.Addresses {
				pod := ""
				if a.TargetRef != nil {
					pod = a.TargetRef.Name
				}
				out = append(out, endpointAddr{addr: net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))), pod: pod})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

func (p *Proxier) teardown(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.teardownLocked(key)
}

// teardownLocked stops a Service's listeners and releases its ClusterIP. Connections in
// flight continue until either side closes them.
func (p *Proxier) teardownLocked(key string) {
	st := p.state[key]
	if st == nil {
		return
	}
	for _, f := range st.frontends {
		f.close()
	}
	if p.kernel != nil {
		if err := p.kernel.update(key, nil); err != nil {
			p.log.Warn("remove rules", "service", key, "err", err)
		}
	}
	if p.binder != nil {
		if err := p.binder.RemoveAddress(st.clusterIP); err != nil {
			p.log.Warn("release cluster IP", "service", key, "ip", st.clusterIP, "err", err)
		}
	}
	delete(p.state, key)
	p.log.Info("service closed", "service", key)
}

func (p *Proxier) shutdown() {
	p.mu.Lock()
	for key := range p.state {
		p.teardownLocked(key)
	}
	p.mu.Unlock()
	p.closeAll()
	if p.kernel != nil {
		if err := p.kernel.cleanup(); err != nil {
			p.log.Warn("remove iptables rules", "err", err)
		}
	}
}

// CountsBytes says whether Stats has bytes and open connections: the userspace relay
// counts them; the kernel's NAT rules (ModeIPTables) count only new connections.
func (p *Proxier) CountsBytes() bool { return p.kernel == nil }

// Stats reports the traffic per endpoint of one Service, across its ports, sorted by port
// then address. Endpoints that left recently are listed with Ready false.
func (p *Proxier) Stats(namespace, service string) []EndpointStats {
	if p.kernel != nil {
		out := p.kernel.stats(namespace + "/" + service)
		sort.Slice(out, func(i, j int) bool {
			if out[i].Port != out[j].Port {
				return out[i].Port < out[j].Port
			}
			return out[i].Address < out[j].Address
		})
		return out
	}
	p.mu.Lock()
	st := p.state[namespace+"/"+service]
	var fs []*frontend
	if st != nil {
		for _, f := range st.frontends {
			fs = append(fs, f)
		}
	}
	p.mu.Unlock()
	var out []EndpointStats
	for _, f := range fs {
		out = append(out, f.bal.stats(f.port)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Address < out[j].Address
	})
	return out
}
