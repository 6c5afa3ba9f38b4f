// Package traffic is the Service page's traffic card: what kind of Service it is and who
// answers on its ClusterIP (its pods, the API server for `kubernetes`, webkube's DNS
// server for `kube-dns`), its NodePorts as links, and "send requests": N HTTP requests sent
// from inside a pod (through pods/exec, as `kubectl exec` would) to the ClusterIP, with
// the connections the service proxy gave each ready pod meanwhile.
package traffic

import (
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Kinds of Service, by who answers on the ClusterIP.
const (
	KindPods      = "pods"      // a selector: the endpoints controller keeps its ready pods
	KindAPIServer = "apiserver" // default/kubernetes: the API server itself
	KindDNS       = "dns"       // another proxy's (webkube's DNS server answers on the IP itself)
	KindManual    = "manual"    // no selector: Endpoints are whatever someone wrote
	KindHeadless  = "headless"  // clusterIP None: DNS names the pods, no proxying
	KindExternal  = "external"  // ExternalName: a DNS alias, no proxying
)

// ProxyNameLabel hands a Service to another proxy, as for kube-proxy.
const ProxyNameLabel = "service.kubernetes.io/service-proxy-name"

// View is the card's model.
type View struct {
	Namespace, Name string
	Kind            string
	ClusterIP       string
	Port            int32  // the first TCP port, the one requests go to
	ProxyName       string // ProxyNameLabel's value
	Endpoint        string // for KindAPIServer: the address the Endpoints point at
	NodePorts       []NodePort
	CanSend         bool
	Counting        bool   // the dashboard can read the service proxy's counters
	NoCounters      string // when not: why (what reading the API's /metrics said)
	CountsBytes     bool   // ... and they include bytes (userspace mode)
}

// NodePort is one NodePort and where a browser on this machine reaches it.
type NodePort struct {
	Port     int32
	NodePort int32
	URL      string
}

// Of builds the card. nodeHost is the host part of the page's own address (the NodePorts
// listen on this machine), ep may be nil.
func Of(s *corev1.Service, ep *corev1.Endpoints, nodeHost string) View {
	v := View{Namespace: s.Namespace, Name: s.Name, ClusterIP: s.Spec.ClusterIP, ProxyName: s.Labels[ProxyNameLabel]}
	for _, p := range s.Spec.Ports {
		if v.Port == 0 && (p.Protocol == corev1.ProtocolTCP || p.Protocol == "") {
			v.Port = p.Port
		}
		if p.NodePort != 0 {
			v.NodePorts = append(v.NodePorts, NodePort{Port: p.Port, NodePort: p.NodePort,
				URL: "http://" + net.JoinHostPort(nodeHost, strconv.Itoa(int(p.NodePort))) + "/"})
		}
	}
	switch {
	case s.Spec.Type == corev1.ServiceTypeExternalName:
		v.Kind = KindExternal
	case s.Spec.ClusterIP == corev1.ClusterIPNone:
		v.Kind = KindHeadless
	case v.ProxyName != "":
		v.Kind = KindDNS
	case len(s.Spec.Selector) > 0:
		v.Kind = KindPods
		v.CanSend = v.Port != 0 && v.ClusterIP != ""
	case s.Namespace == "default" && s.Name == "kubernetes":
		v.Kind = KindAPIServer
	default:
		v.Kind = KindManual
	}
	if v.Kind == KindAPIServer && ep != nil {
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				for _, p := range ss.Ports {
					v.Endpoint = net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port)))
				}
			}
		}
	}
	return v
}
