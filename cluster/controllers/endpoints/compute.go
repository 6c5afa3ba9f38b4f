package endpoints

import (
	"fmt"
	"hash/fnv"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/podstatus"
)

// ManagedBy is the value of the endpointslice.kubernetes.io/managed-by label on the
// slices this controller owns, the same as Kubernetes' own controller uses so tools that
// look for it (kubectl describe) treat them the same way.
const ManagedBy = "endpointslice-controller.k8s.io"

// headlessLabel marks the Endpoints and slices of a Service with clusterIP None.
const headlessLabel = "service.kubernetes.io/headless"

// maxEndpointsPerSlice matches Kubernetes' default --max-endpoints-per-slice.
const maxEndpointsPerSlice = 100

// podEndpoint is one pod's view of a Service: its address, whether it should get
// traffic, and the ports its containers resolve the Service's targetPorts to.
type podEndpoint struct {
	pod         *corev1.Pod
	ready       bool // counted as ready (Endpoints.addresses, slice condition ready)
	serving     bool // pod Ready regardless of terminating
	terminating bool
	ports       []corev1.EndpointPort
	portKey     string
}

// podEndpoints lists the pods that belong in a Service's endpoints, sorted by IP, each
// with its resolved ports. includeTerminating adds pods being deleted (EndpointSlices
// keep them with terminating=true; Endpoints drop them).
func podEndpoints(svc *corev1.Service, pods []*corev1.Pod, includeTerminating bool) []podEndpoint {
	var out []podEndpoint
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if net.ParseIP(pod.Status.PodIP).To4() == nil {
			continue // webkube's pod network is IPv4 only
		}
		terminating := pod.DeletionTimestamp != nil
		if terminating && !includeTerminating {
			continue
		}
		serving := podstatus.Ready(pod)
		ready := serving && !terminating
		if svc.Spec.PublishNotReadyAddresses {
			ready = true
		}
		ports := resolvePorts(svc, pod)
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue // none of the Service's ports exist on this pod
		}
		out = append(out, podEndpoint{pod: pod, ready: ready, serving: serving, terminating: terminating, ports: ports, portKey: portKey(ports)})
	}
	sort.Slice(out, func(i, j int) bool { return ipLess(out[i].pod.Status.PodIP, out[j].pod.Status.PodIP) })
	return out
}

// resolvePorts maps each Service port to the pod's port: a numeric targetPort as is, a
// named one through the pod's container ports (so pods of different versions may listen
// on different numbers). A name the pod lacks drops that port for that pod only.
func resolvePorts(svc *corev1.Service, pod *corev1.Pod) []corev1.EndpointPort {
	var out []corev1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		port, ok := findPort(pod, sp, proto)
		if !ok {
			continue
		}
		out = append(out, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: proto, AppProtocol: sp.AppProtocol})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func findPort(pod *corev1.Pod, sp corev1.ServicePort, proto corev1.Protocol) (int32, bool) {
	if sp.TargetPort.StrVal == "" && sp.TargetPort.IntVal == 0 {
		return sp.Port, true // targetPort defaults to port
	}
	if sp.TargetPort.StrVal == "" {
		return sp.TargetPort.IntVal, true
	}
	name := sp.TargetPort.StrVal
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			p := cp.Protocol
			if p == "" {
				p = corev1.ProtocolTCP
			}
			if cp.Name == name && p == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func portKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s/%d;", p.Name, p.Protocol, p.Port)
	}
	return b.String()
}

func ipLess(a, b string) bool {
	ia, ib := net.ParseIP(a).To4(), net.ParseIP(b).To4()
	if ia == nil || ib == nil {
		return a < b
	}
	return string(ia) < string(ib)
}

func address(pod *corev1.Pod, svc *corev1.Service) corev1.EndpointAddress {
	a := corev1.EndpointAddress{
		IP: pod.Status.PodIP,
		TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		a.NodeName = &n
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		a.Hostname = pod.Spec.Hostname
	}
	return a
}

// desiredEndpoints computes the Endpoints object for a Service with a selector from the
// pods it selects: one subset per distinct resolved port set, ready pods in addresses,
// the others in notReadyAddresses.
func desiredEndpoints(svc *corev1.Service, pods []*corev1.Pod) *corev1.Endpoints {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: endpointsLabels(svc)},
	}
	bySet := map[string]*corev1.EndpointSubset{}
	var keys []string
	for _, pe := range podEndpoints(svc, pods, false) {
		ss, ok := bySet[pe.portKey]
		if !ok {
			ss = &corev1.EndpointSubset{Ports: pe.ports}
			bySet[pe.portKey] = ss
			keys = append(keys, pe.portKey)
		}
		if pe.ready {
			ss.Addresses = append(ss.Addresses, address(pe.pod, svc))
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, address(pe.pod, svc))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ep.Subsets = append(ep.Subsets, *bySet[k])
	}
	truncate(ep)
	return ep
}

// maxEndpointsAddresses is where Kubernetes stops listing addresses in an Endpoints
// object (EndpointSlices carry the rest).
const maxEndpointsAddresses = 1000

// overCapacityAnnotation marks an Endpoints object cut at maxEndpointsAddresses.
const overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"

// truncate keeps at most maxEndpointsAddresses addresses, ready ones first, and marks
// the object as Kubernetes does.
func truncate(ep *corev1.Endpoints) {
	total := 0
	for _, ss := range ep.Subsets {
		total += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if total <= maxEndpointsAddresses {
		return
	}
	left := maxEndpointsAddresses
	for i := range ep.Subsets {
		n := min(left, len(ep.Subsets[i].Addresses))
		ep.Subsets[i].Addresses = ep.Subsets[i].Addresses[:n]
		left -= n
	}
	for i := range ep.Subsets {
		n := min(left, len(ep.Subsets[i].NotReadyAddresses))
		ep.Subsets[i].NotReadyAddresses = ep.Subsets[i].NotReadyAddresses[:n]
		left -= n
	}
	kept := ep.Subsets[:0]
	for _, ss := range ep.Subsets {
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			kept = append(kept, ss)
		}
	}
	ep.Subsets = kept
	ep.Annotations = map[string]string{overCapacityAnnotation: "truncated"}
}

func endpointsLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[headlessLabel] = ""
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

func sliceLabels(svc *corev1.Service) map[string]string {
	l := endpointsLabels(svc)
	if l == nil {
		l = map[string]string{}
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	return l
}

// desiredSlices computes the EndpointSlices of a Service: one per resolved port set, split
// at 100 endpoints, named from the Service and a hash of the port set so a resync finds
// the same names again. A Service selecting nothing keeps one empty slice, as Kubernetes does.
func desiredSlices(svc *corev1.Service, pods []*corev1.Pod) []*discoveryv1.EndpointSlice {
	groups := map[string][]podEndpoint{}
	var keys []string
	for _, pe := range podEndpoints(svc, pods, true) {
		if _, ok := groups[pe.portKey]; !ok {
			keys = append(keys, pe.portKey)
		}
		groups[pe.portKey] = append(groups[pe.portKey], pe)
	}
	sort.Strings(keys)
	var out []*discoveryv1.EndpointSlice
	for _, k := range keys {
		pes := groups[k]
		for chunk := 0; len(pes) > 0; chunk++ {
			n := min(len(pes), maxEndpointsPerSlice)
			s := newSlice(svc, fmt.Sprintf("%s#%d", k, chunk))
			s.Ports = sliceports(pes[0].ports)
			for _, pe := range pes[:n] {
				s.Endpoints = append(s.Endpoints, sliceEndpoint(pe, svc))
			}
			out = append(out, s)
			pes = pes[n:]
		}
	}
	if len(out) == 0 {
		out = append(out, newSlice(svc, "placeholder"))
	}
	return out
}

func newSlice(svc *corev1.Service, key string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      sliceName(svc.Name, key),
			Namespace: svc.Namespace,
			Labels:    sliceLabels(svc),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{},
	}
}

// sliceName is "<service>-<5 chars>" like the names Kubernetes generates, but derived
// from the port set so it is stable across resyncs and restarts.
func sliceName(svc, key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' generateName alphabet
	v := h.Sum32()
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[v%uint32(len(alphabet))]
		v /= uint32(len(alphabet))
	}
	name := svc
	if len(name) > 57 {
		name = name[:57]
	}
	return name + "-" + string(suffix)
}

func sliceports(ports []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for _, p := range ports {
		out = append(out, discoveryv1.EndpointPort{Name: ptr(p.Name), Port: ptr(p.Port), Protocol: ptr(p.Protocol), AppProtocol: p.AppProtocol})
	}
	return out
}

func sliceEndpoint(pe podEndpoint, svc *corev1.Service) discoveryv1.Endpoint {
	a := address(pe.pod, svc)
	e := discoveryv1.Endpoint{
		Addresses: []string{a.IP},
		Conditions: discoveryv1.EndpointConditions{
			Ready: ptr(pe.ready), Serving: ptr(pe.serving), Terminating: ptr(pe.terminating),
		},
		NodeName:  a.NodeName,
		TargetRef: a.TargetRef,
	}
	if a.Hostname != "" {
		e.Hostname = ptr(a.Hostname)
	}
	return e
}

func ptr[T any](v T) *T { return &v }
