package dns

import "fmt"

// DefaultClusterDNS is the cluster DNS address webkube uses, the tenth address of the
// default service range as in kubeadm clusters. The API server must not hand it out as a
// ClusterIP.
const DefaultClusterDNS = "10.96.0.10"

// ResolvConf is the /etc/resolv.conf a pod in namespace ns gets (dnsPolicy ClusterFirst),
// the same lines the kubelet writes: the cluster DNS server, the search path that makes
// short Service names work, and ndots:5 so names with up to four dots try the search path
// first.
func ResolvConf(ns, nameserver string) string {
	return fmt.Sprintf("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5\n", ns, nameserver)
}
