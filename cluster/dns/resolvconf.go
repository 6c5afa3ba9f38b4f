package dns

import (
	"encoding/binary"
	"fmt"
	"net"
)

// DefaultClusterDNS is the cluster DNS address for the default service range 10.96.0.0/16:
// its tenth address, as in kubeadm clusters.
const DefaultClusterDNS = "10.96.0.10"

// ClusterDNSIP is the cluster DNS address for a service range: its tenth address, as
// kubeadm picks it. The API server must not hand it out to another Service; the Server's
// RegisterService claims it as kube-system/kube-dns.
func ClusterDNSIP(serviceCIDR string) (string, error) {
	_, n, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return "", fmt.Errorf("dns: %w", err)
	}
	ip4 := n.IP.To4()
	ones, bits := n.Mask.Size()
	if ip4 == nil || bits-ones < 4 {
		return "", fmt.Errorf("dns: service range %s: want IPv4 with at least 16 addresses", serviceCIDR)
	}
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, binary.BigEndian.Uint32(ip4)+10)
	return out.String(), nil
}

// ResolvConf is the /etc/resolv.conf a pod in namespace ns gets (dnsPolicy ClusterFirst),
// the same lines the kubelet writes: the cluster DNS server, the search path that makes
// short Service names work, and ndots:5 so names with up to four dots try the search path
// first.
func ResolvConf(ns, nameserver string) string {
	return fmt.Sprintf("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5\n", ns, nameserver)
}
