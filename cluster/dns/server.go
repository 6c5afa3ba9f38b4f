// Package dns is webkube's cluster DNS, the part of CoreDNS's kubernetes plugin a learner
// meets: it answers for the cluster domain (cluster.local) from the Services and Endpoints
// it watches through the API server.
//
//	<svc>.<ns>.svc.cluster.local            A → the ClusterIP; headless → ready pod IPs
//	<host>.<svc>.<ns>.svc.cluster.local     A → that pod of a headless Service (its hostname, or its IP dashed)
//	_<port>._<proto>.<svc>.<ns>.svc...      SRV for named ports
//	<a-b-c-d>.<ns>.pod.cluster.local        A → a.b.c.d
//
// Unknown names in the zone get NXDOMAIN; names outside it get REFUSED, since webkube runs
// offline and forwards nowhere. With the pod search path
// (<ns>.svc.cluster.local svc.cluster.local cluster.local, ndots:5) short names such as
// `echo` or `echo.default` resolve the way they do in Kubernetes.
package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Server.
type Config struct {
	Client kubernetes.Interface // required
	// Informers lets the caller share one informer cache with other components; default a
	// new one owned by the Server.
	Informers informers.SharedInformerFactory
	// Addr is where to listen, UDP and TCP: "10.96.0.10:53" in webkube (the address must be
	// local, e.g. on the service interface), "127.0.0.1:0" in tests.
	Addr   string
	Domain string       // default "cluster.local"
	TTL    uint32       // seconds; default 5, short so learners see changes at once
	Logger *slog.Logger // optional
	// RegisterService makes Start create the kube-system/kube-dns Service with Addr's IP
	// as its ClusterIP, as clusters have it: `kubectl get svc -A` shows it, and the API
	// server then never gives that IP to another Service. It carries the
	// service-proxy-name label so the service proxy leaves the address to this server.
	RegisterService bool
}

// Server is the cluster DNS server.
type Server struct {
	client kubernetes.Interface
	addr   string
	zone   string // "cluster.local." lower case
	ttl    uint32
	log    *slog.Logger

	factory   informers.SharedInformerFactory
	ownInf    bool
	register  bool
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	hasSynced []cache.InformerSynced

	udp  net.PacketConn
	tcp  net.Listener
	wg   sync.WaitGroup
	done chan struct{}
}

// NewServer builds a Server; Start runs it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("dns: Config.Client is required")
	}
	if cfg.Addr == "" {
		return nil, errors.New("dns: Config.Addr is required")
	}
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f, own := cfg.Informers, false
	if f == nil {
		f, own = informers.NewSharedInformerFactory(cfg.Client, 0), true
	}
	s := &Server{
		ownInf:   own,
		register: cfg.RegisterService,
		client:   cfg.Client,
		addr:     cfg.Addr,
		zone:     strings.ToLower(strings.TrimSuffix(cfg.Domain, ".")) + ".",
		ttl:      cfg.TTL,
		log:      cfg.Logger.With("component", "cluster-dns"),
		factory:  f,
		done:     make(chan struct{}),
	}
	svcInf, epInf := f.Core().V1().Services(), f.Core().V1().Endpoints()
	s.services, s.endpoints = svcInf.Lister(), epInf.Lister()
	s.hasSynced = []cache.InformerSynced{svcInf.Informer().HasSynced, epInf.Informer().HasSynced}
	return s, nil
}

// Start syncs the caches, then listens on UDP and TCP and serves until ctx ends; Done is
// closed once the sockets are closed and in-flight answers are written.
func (s *Server) Start(ctx context.Context) error {
	// Our own informers get a context of their own: Shutdown waits for them to stop, so a
	// failed start must stop them first (it waited forever on the caller's live ctx).
	stopCh, stopInformers := ctx.Done(), context.CancelFunc(func() {})
	if s.ownInf {
		ictx, cancel := context.WithCancel(ctx)
		stopCh, stopInformers = ictx.Done(), cancel
	}
	s.factory.Start(stopCh)
	if !cache.WaitForCacheSync(ctx.Done(), s.hasSynced...) {
		stopInformers()
		close(s.done)
		return fmt.Errorf("dns: caches did not sync: %w", ctx.Err())
	}
	if err := s.listen(); err != nil {
		stopInformers()
		if s.ownInf {
			s.factory.Shutdown()
		}
		close(s.done)
		return err
	}
	if s.register {
		if err := s.registerService(ctx); err != nil {
			// DNS still works; only the Service object is missing.
			s.log.Warn("could not create kube-system/kube-dns", "err", err)
		}
	}
	s.log.Info("serving", "addr", s.udp.LocalAddr().String(), "zone", s.zone)
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	go func() {
		<-ctx.Done()
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
		stopInformers()
		if s.ownInf {
			s.factory.Shutdown()
		}
		close(s.done)
	}()
	return nil
}

// listen opens UDP and TCP on the same port; with port 0 it retries until the port the
// kernel picked for UDP is free for TCP too.
func (s *Server) listen() error {
	var err error
	for range 10 {
		if s.udp, err = net.ListenPacket("udp4", s.addr); err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		if s.tcp, err = net.Listen("tcp4", s.udp.LocalAddr().String()); err == nil {
			return nil
		}
		s.udp.Close()
		if !strings.HasSuffix(s.addr, ":0") {
			break
		}
	}
	return fmt.Errorf("dns: %w", err)
}

// ServiceName is the Service RegisterService creates in kube-system, named as in kubeadm
// clusters.
const ServiceName = "kube-dns"

func (s *Server) registerService(ctx context.Context) error {
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: metav1.NamespaceSystem, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
			"service.kubernetes.io/service-proxy-name": "webkube-dns",
		}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: host,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	_, err = s.client.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, svc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Addr is the address the server listens on (UDP and TCP), once started.
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Done is closed after the server stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		resp := s.handle(buf[:n], 512)
		if resp != nil {
			s.udp.WriteTo(resp, from)
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp := s.handle(msg, 65535)
				if resp == nil {
					return
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
	}
}

// handle answers one query message; nil means drop it (not even a header to answer).
func (s *Server) handle(req []byte, maxSize int) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	if h.Response {
		return nil
	}
	resp := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired}}
	q, err := p.Question()
	if err != nil || h.OpCode != 0 {
		resp.Header.RCode = dnsmessage.RCodeFormatError
		if h.OpCode != 0 {
			resp.Header.RCode = dnsmessage.RCodeNotImplemented
		}
		return pack(&resp, maxSize)
	}
	resp.Questions = []dnsmessage.Question{q}
	if maxSize == 512 {
		// Honour a bigger UDP size from EDNS0 (the Go and glibc resolvers send 1232+).
		if p.SkipAllQuestions() == nil && p.SkipAllAnswers() == nil && p.SkipAllAuthorities() == nil {
			for {
				rh, err := p.AdditionalHeader()
				if err != nil {
					break
				}
				if rh.Type == dnsmessage.TypeOPT {
					maxSize = max(512, min(int(rh.Class), 1232))
				}
				p.SkipAdditional()
			}
		}
	}
	s.answer(&resp, q)
	return pack(&resp, maxSize)
}

// pack encodes resp, truncating it (TC set, answers dropped) if it exceeds maxSize so the
// client retries over TCP.
func pack(resp *dnsmessage.Message, maxSize int) []byte {
	b, err := resp.Pack()
	if err != nil {
		resp.Answers, resp.Authorities, resp.Additionals = nil, nil, nil
		resp.Header.RCode = dnsmessage.RCodeServerFailure
		b, _ = resp.Pack()
		return b
	}
	if len(b) > maxSize {
		resp.Answers, resp.Authorities, resp.Additionals = nil, nil, nil
		resp.Header.Truncated = true
		b, _ = resp.Pack()
	}
	return b
}

// answer fills in resp for question q.
func (s *Server) answer(resp *dnsmessage.Message, q dnsmessage.Question) {
	name := strings.ToLower(q.Name.String())
	if name != s.zone && !strings.HasSuffix(name, "."+s.zone) {
		resp.Header.RCode = dnsmessage.RCodeRefused
		return
	}
	resp.Header.Authoritative = true
	if q.Class != dnsmessage.ClassINET && q.Class != dnsmessage.ClassANY {
		resp.Header.RCode = dnsmessage.RCodeNotImplemented
		return
	}
	recs, exists := s.lookup(strings.TrimSuffix(strings.TrimSuffix(name, s.zone), "."))
	if !exists {
		resp.Header.RCode = dnsmessage.RCodeNameError
		resp.Authorities = []dnsmessage.Resource{s.soa()}
		return
	}
	if name == s.zone && (q.Type == dnsmessage.TypeSOA || q.Type == dnsmessage.TypeALL) {
		resp.Answers = append(resp.Answers, s.soa())
	}
	for _, r := range recs {
		if q.Type == dnsmessage.TypeALL || r.typ == q.Type {
			resp.Answers = append(resp.Answers, s.resource(q.Name, r))
		}
	}
	if len(resp.Answers) == 0 {
		resp.Authorities = []dnsmessage.Resource{s.soa()} // NODATA: the name exists, not this type
	}
}

// record is one answer before encoding.
type record struct {
	typ    dnsmessage.Type
	ip     net.IP
	target string // SRV
	port   uint16 // SRV
}

func (s *Server) resource(name dnsmessage.Name, r record) dnsmessage.Resource {
	h := dnsmessage.ResourceHeader{Name: name, Type: r.typ, Class: dnsmessage.ClassINET, TTL: s.ttl}
	switch r.typ {
	case dnsmessage.TypeA:
		var a [4]byte
		copy(a[:], r.ip.To4())
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a}}
	default:
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.SRVResource{
			Priority: 0, Weight: 100, Port: r.port, Target: dnsmessage.MustNewName(r.target),
		}}
	}
}

func (s *Server) soa() dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(s.zone), Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET, TTL: s.ttl},
		Body: &dnsmessage.SOAResource{
			NS: dnsmessage.MustNewName("ns.dns." + s.zone), MBox: dnsmessage.MustNewName("hostmaster." + s.zone),
			Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, MinTTL: s.ttl,
		},
	}
}

// lookup resolves a name relative to the zone ("echo.default.svc"), returning its records
// and whether the name exists at all (NXDOMAIN versus NODATA).
func (s *Server) lookup(rel string) ([]record, bool) {
	if rel == "" {
		return nil, true // the zone apex
	}
	l := strings.Split(rel, ".")
	n := len(l)
	switch {
	case l[n-1] == "svc":
		return s.lookupService(l[:n-1])
	case l[n-1] == "pod":
		// <a-b-c-d>.<ns>.pod, answered from the name alone as CoreDNS's "pods insecure" does.
		if n == 3 {
			if ip := net.ParseIP(strings.ReplaceAll(l[0], "-", ".")).To4(); ip != nil && strings.Count(l[0], "-") == 3 {
				return []record{{typ: dnsmessage.TypeA, ip: ip}}, true
			}
			return nil, false
		}
		return nil, n <= 2 // "pod" and "<ns>.pod" exist as names with no records
	}
	return nil, false
}

func (s *Server) lookupService(l []string) ([]record, bool) {
	switch len(l) {
	case 0:
		return nil, true // svc.cluster.local
	case 1:
		svcs, err := s.services.Services(l[0]).List(everything)
		return nil, err == nil && len(svcs) > 0 // a namespace with Services
	case 2:
		svc, err := s.services.Services(l[1]).Get(l[0])
		if err != nil {
			return nil, false
		}
		return s.serviceRecords(svc), true
	case 3:
		svc, err := s.services.Services(l[2]).Get(l[1])
		if err != nil {
			return nil, false
		}
		// <host>.<svc>.<ns>.svc: one endpoint of a headless Service.
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			for _, a := range s.readyAddresses(svc) {
				if endpointHost(a) == l[0] {
					return []record{{typ: dnsmessage.TypeA, ip: net.ParseIP(a.IP)}}, true
				}
			}
		}
		return nil, false
	case 4:
		// _<port>._<proto>.<svc>.<ns>.svc
		if !strings.HasPrefix(l[0], "_") || !strings.HasPrefix(l[1], "_") {
			return nil, false
		}
		svc, err := s.services.Services(l[3]).Get(l[2])
		if err != nil {
			return nil, false
		}
		return s.srvRecords(svc, l[0][1:], l[1][1:])
	}
	return nil, false
}

func (s *Server) serviceRecords(svc *corev1.Service) []record {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // would be a CNAME to somewhere this offline cluster cannot reach
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if ip := net.ParseIP(svc.Spec.ClusterIP).To4(); ip != nil {
			return []record{{typ: dnsmessage.TypeA, ip: ip}}
		}
		return nil
	}
	var out []record
	for _, a := range s.readyAddresses(svc) {
		if ip := net.ParseIP(a.IP).To4(); ip != nil {
			out = append(out, record{typ: dnsmessage.TypeA, ip: ip})
		}
	}
	return out
}

func (s *Server) srvRecords(svc *corev1.Service, port, proto string) ([]record, bool) {
	var out []record
	found := false
	for _, sp := range svc.Spec.Ports {
		p := sp.Protocol
		if p == "" {
			p = corev1.ProtocolTCP
		}
		if sp.Name == "" || !strings.EqualFold(sp.Name, port) || !strings.EqualFold(string(p), proto) {
			continue
		}
		found = true
		base := svc.Name + "." + svc.Namespace + ".svc." + s.zone
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			out = append(out, record{typ: dnsmessage.TypeSRV, target: base, port: uint16(sp.Port)})
			continue
		}
		ep, err := s.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
		if err != nil {
			continue
		}
		for _, ss := range ep.Subsets {
			for _, epp := range ss.Ports {
				if epp.Name != sp.Name {
					continue
				}
				for _, a := range ss.Addresses {
					out = append(out, record{typ: dnsmessage.TypeSRV, target: endpointHost(a) + "." + base, port: uint16(epp.Port)})
				}
			}
		}
	}
	return out, found
}

// readyAddresses lists a Service's ready endpoint addresses, once each, sorted by IP.
func (s *Server) readyAddresses(svc *corev1.Service) []corev1.EndpointAddress {
	ep, err := s.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []corev1.EndpointAddress
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if !seen[a.IP] {
				seen[a.IP] = true
				out = append(out, a)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out
}

// endpointHost is the DNS label of a headless Service's endpoint: the pod's hostname when
// it set one with subdomain, else its IP with dashes, as CoreDNS names them.
func endpointHost(a corev1.EndpointAddress) string {
	if a.Hostname != "" {
		return strings.ToLower(a.Hostname)
	}
	return strings.ReplaceAll(a.IP, ".", "-")
}

var everything = labels.Everything()
