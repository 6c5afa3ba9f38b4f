package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ipAllocator hands out cluster IPs from the service range. It lives in memory and is
// rebuilt from the stored Services at Start, so the store stays the only truth.
type ipAllocator struct {
	mu    sync.Mutex
	base  uint32
	size  uint32 // usable addresses: network and broadcast excluded
	used  map[uint32]bool
	next  uint32
	cidr  *net.IPNet
	label string
}

func newIPAllocator(cidr string) (*ipAllocator, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip4 := n.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("%s: only IPv4 service ranges are supported", cidr)
	}
	ones, bits := n.Mask.Size()
	total := uint32(1) << (bits - ones)
	if total < 4 {
		return nil, fmt.Errorf("%s: range too small", cidr)
	}
	return &ipAllocator{base: binary.BigEndian.Uint32(ip4), size: total - 2, used: map[uint32]bool{}, cidr: n, label: cidr}, nil
}

func (a *ipAllocator) offset(ip net.IP) (uint32, bool) {
	ip4 := ip.To4()
	if ip4 == nil || !a.cidr.Contains(ip4) {
		return 0, false
	}
	off := binary.BigEndian.Uint32(ip4) - a.base
	return off, off >= 1 && off <= a.size
}

func (a *ipAllocator) ipAt(off uint32) string {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, a.base+off)
	return b.String()
}

// allocate reserves ip, or the next free one when ip is "".
func (a *ipAllocator) allocate(ip string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip != "" {
		off, ok := a.offset(net.ParseIP(ip))
		if !ok {
			return "", fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, a.label)
		}
		if a.used[off] {
			return "", fmt.Errorf("provided IP is already allocated")
		}
		a.used[off] = true
		return ip, nil
	}
	for i := uint32(0); i < a.size; i++ {
		off := (a.next+i)%a.size + 1
		if !a.used[off] {
			a.used[off] = true
			a.next = off % a.size
			return a.ipAt(off), nil
		}
	}
	return "", fmt.Errorf("range is full")
}

func (a *ipAllocator) release(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if off, ok := a.offset(net.ParseIP(ip)); ok {
		delete(a.used, off)
	}
}

type portAllocator struct {
	mu       sync.Mutex
	min, max int32
	used     map[int32]bool
	next     int32
	label    string
}

func newPortAllocator(r string) (*portAllocator, error) {
	lo, hi, ok := strings.Cut(r, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a <= 0 || b < a || b > 65535 {
		return nil, fmt.Errorf("%q is not a port range like 30000-32767", r)
	}
	return &portAllocator{min: int32(a), max: int32(b), used: map[int32]bool{}, next: int32(a), label: r}, nil
}

func (a *portAllocator) allocate(port int32) (int32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if port != 0 {
		if port < a.min || port > a.max {
			return 0, fmt.Errorf("provided port is not in the valid range. The range of valid ports is %s", a.label)
		}
		if a.used[port] {
			return 0, fmt.Errorf("provided port is already allocated")
		}
		a.used[port] = true
		return port, nil
	}
	n := a.max - a.min + 1
	for i := int32(0); i < n; i++ {
		p := a.min + (a.next-a.min+i)%n
		if !a.used[p] {
			a.used[p] = true
			a.next = p + 1
			return p, nil
		}
	}
	return 0, fmt.Errorf("range is full")
}

func (a *portAllocator) release(port int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, port)
}

func needsNodePorts(t corev1.ServiceType) bool {
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// loadAllocations marks the IPs and ports of every stored Service as used.
func (s *Server) loadAllocations(ctx context.Context) error {
	r := resourceFor(coreGR("services"))
	kvs, _, err := s.store.List(ctx, r.listPrefix(""), 0)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		obj, err := decodeKV(r, kv)
		if err != nil {
			return err
		}
		svc := obj.(*corev1.Service)
		for _, ip := range clusterIPs(svc) {
			_, _ = s.ips.allocate(ip)
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				_, _ = s.ports.allocate(p.NodePort)
			}
		}
	}
	return nil
}

func clusterIPs(svc *corev1.Service) []string {
	var out []string
	seen := map[string]bool{}
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if ip != "" && ip != corev1.ClusterIPNone && !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// allocateService gives a new Service its cluster IP and node ports. The returned func
// undoes the allocation when the create does not happen.
func (s *Server) allocateService(obj runtime.Object) (release func(), err error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return func() {}, nil
	}
	var ips []string
	var ports []int32
	release = func() {
		for _, ip := range ips {
			s.ips.release(ip)
		}
		for _, p := range ports {
			s.ports.release(p)
		}
	}
	fail := func(path *field.Path, value any, msg string) (func(), error) {
		release()
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name,
			field.ErrorList{field.Invalid(path, value, msg)})
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		ip, err := s.ips.allocate(svc.Spec.ClusterIP)
		if err != nil {
			return fail(field.NewPath("spec", "clusterIPs").Index(0), svc.Spec.ClusterIP, err.Error())
		}
		ips = append(ips, ip)
		svc.Spec.ClusterIP = ip
		svc.Spec.ClusterIPs = []string{ip}
	} else if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	}
	if needsNodePorts(svc.Spec.Type) {
		for i := range svc.Spec.Ports {
			p, err := s.ports.allocate(svc.Spec.Ports[i].NodePort)
			if err != nil {
				return fail(field.NewPath("spec", "ports").Index(i).Child("nodePort"), svc.Spec.Ports[i].NodePort, err.Error())
			}
			ports = append(ports, p)
			svc.Spec.Ports[i].NodePort = p
		}
	}
	return release, nil
}

// updateServiceAllocations keeps a Service's cluster IP (immutable) and allocates or
// frees node ports when its type or ports change. release(true) rolls back what was
// newly allocated; release(false) commits, freeing what the old object held and the
// new one dropped.
func (s *Server) updateServiceAllocations(next, old runtime.Object) (release func(rollback bool), err error) {
	svc, ok := next.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok || !ok2 {
		return func(bool) {}, nil
	}
	if svc.Spec.ClusterIP == "" {
		svc.Spec.ClusterIP = oldSvc.Spec.ClusterIP
	}
	if len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = oldSvc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != oldSvc.Spec.ClusterIP {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name,
			field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), svc.Spec.ClusterIP, "may not change once set")})
	}
	oldPorts := map[int32]bool{}
	for _, p := range oldSvc.Spec.Ports {
		if p.NodePort != 0 {
			oldPorts[p.NodePort] = true
		}
	}
	var fresh []int32
	rollback := func() {
		for _, p := range fresh {
			s.ports.release(p)
		}
	}
	keep := map[int32]bool{}
	if needsNodePorts(svc.Spec.Type) {
		for i := range svc.Spec.Ports {
			np := svc.Spec.Ports[i].NodePort
			if np != 0 && oldPorts[np] && !keep[np] {
				keep[np] = true
				continue
			}
			p, err := s.ports.allocate(np)
			if err != nil {
				rollback()
				return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name,
					field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), np, err.Error())})
			}
			fresh = append(fresh, p)
			keep[p] = true
			svc.Spec.Ports[i].NodePort = p
		}
	} else {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	return func(rb bool) {
		if rb {
			rollback()
			return
		}
		for p := range oldPorts {
			if !keep[p] {
				s.ports.release(p)
			}
		}
	}, nil
}

// releaseService frees a deleted Service's IPs and ports.
func (s *Server) releaseService(obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	for _, ip := range clusterIPs(svc) {
		s.ips.release(ip)
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			s.ports.release(p.NodePort)
		}
	}
}
