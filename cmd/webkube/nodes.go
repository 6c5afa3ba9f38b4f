package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	containerdclient "github.com/containerd/containerd"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"webkube/cluster/certs"
	"webkube/cluster/stepper"
	"webkube/runtime/cni"
	wkcontainerd "webkube/runtime/containerd"
	"webkube/runtime/containers"
	"webkube/runtime/images"
	"webkube/runtime/kubelet"
)

// startNodes starts containerd (unless --containerd names one) and one kubelet per node.
// Each node has its own containerd namespace, CNI bridge and pod subnet, so several nodes
// on one machine behave like separate machines.
func (m *Main) startNodes(ctx context.Context, client kubernetes.Interface, gate *stepper.Gate, dataDir, clusterDNS string) error {
	cfg := m.Config
	address := cfg.Containerd
	var daemon *wkcontainerd.Daemon
	if address == "" {
		d, err := wkcontainerd.NewDaemon(wkcontainerd.Config{DataDir: filepath.Join(dataDir, "containerd"), Logger: m.Logger})
		if err != nil {
			return err
		}
		if err := d.Start(ctx); err != nil {
			return err
		}
		// Stopping the daemon leaves the containers running (their shims outlive it); a
		// restarted webkube reattaches to them.
		m.closers = append(m.closers, d.Stop)
		address, daemon = d.Address(), d
	} else if err := wkcontainerd.CheckBinaries(); err != nil {
		return err
	}
	// Pod traffic between the bridge, the host and the service proxy is routed.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable ip forwarding: %w", err)
	}
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		ns := wkcontainerd.Namespace
		if i > 1 {
			ns = wkcontainerd.Namespace + "-" + name
		}
		cc, err := wkcontainerd.Connect(ctx, address, ns)
		if err != nil {
			return err
		}
		m.closers = append(m.closers, func() { cc.Close() })
		if err := m.startNode(ctx, client, gate, cc, address, runtimeHealth(daemon, cc), dataDir, name, ns, clusterDNS, i); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// runtimeHealth tells a kubelet whether containerd is up: our own daemon's supervisor
// knows when it died; then the client must answer too.
func runtimeHealth(d *wkcontainerd.Daemon, cc *containerdclient.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		if d != nil {
			if err := d.Health(); err != nil {
				return err
			}
		}
		ok, err := cc.IsServing(ctx)
		if err == nil && ok {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("containerd is not serving")
		}
		// gRPC redials a lost containerd with a back-off of up to two minutes; one that
		// is back should be used at once.
		cc.Conn().ResetConnectBackoff()
		return fmt.Errorf("containerd does not answer: %w", err)
	}
}

func (m *Main) startNode(ctx context.Context, client kubernetes.Interface, gate *stepper.Gate, cc *containerdclient.Client,
	address string, health func(context.Context) error, dataDir, name, namespace, clusterDNS string, index int) error {
	nodeDir := filepath.Join(dataDir, "nodes", name)
	imgs, err := images.NewService(images.Config{Client: cc, Logger: m.Logger, Mirrors: m.Config.Mirrors,
		TempDir: filepath.Join(dataDir, "tmp")})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "tmp"), 0o700); err != nil {
		return err
	}
	if err := imgs.EnsureBuiltins(ctx); err != nil {
		// Pods naming a missing built-in fail with the reason; the rest still runs.
		m.Logger.Warn("built-in images", "node", name, "err", err)
	}
	subnet, err := nodeSubnet(m.Config.PodNetwork, index)
	if err != nil {
		return err
	}
	network, err := cni.NewManager(cni.Config{DataDir: filepath.Join(nodeDir, "cni"), Bridge: fmt.Sprintf("%s%d", m.Config.BridgePrefix, index-1),
		Subnet: subnet, ClusterCIDR: m.Config.PodNetwork.String(), Nameservers: []string{clusterDNS}, Logger: m.Logger})
	if err != nil {
		return err
	}
	var kl *kubelet.Kubelet
	rt, err := containers.New(containers.Config{Client: cc, Namespace: namespace, Address: address, RuncRoot: wkcontainerd.RuncRoot(filepath.Join(dataDir, "containerd")),
		DataDir: nodeDir, Logger: m.Logger, OnExit: func(s containers.Status) {
			if kl != nil {
				kl.OnContainerExit(s)
			}
		}})
	if err != nil {
		return err
	}
	version := "containerd://unknown"
	if v, err := cc.Version(ctx); err == nil {
		version = "containerd://" + v.Version
	}
	// The kubelet's serving certificate is issued afresh at every start; the API server
	// checks it against the CA.
	serving, err := m.ca.IssueTLS(certs.Request{CommonName: "system:node:" + name, Organization: []string{"system:nodes"},
		Hosts: []string{"127.0.0.1", "localhost", name}}, time.Now())
	if err != nil {
		return err
	}
	kl, err = kubelet.New(kubelet.Config{Client: client, NodeName: name, Runtime: rt, Images: imgs, Network: network,
		ServerCert: serving, ClientCAs: m.ca.Pool(), RuntimeVersion: version, Gate: gate, Clock: clock.RealClock{}, Logger: m.Logger,
		RuntimeHealthy: health})
	if err != nil {
		return err
	}
	if err := rt.Start(ctx); err != nil {
		return err
	}
	if err := kl.Start(ctx); err != nil {
		return err
	}
	m.kubelets[name] = kl
	return nil
}

// nodeSubnet is the index-th /24 of the pod network.
func nodeSubnet(podNet *net.IPNet, index int) (string, error) {
	ones, _ := podNet.Mask.Size()
	if index >= 1<<(24-ones) {
		return "", fmt.Errorf("--pod-network %s has no room for node %d", podNet, index)
	}
	ip := podNet.IP.To4()
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += uint32(index) << 8
	return fmt.Sprintf("%d.%d.%d.0/24", byte(v>>24), byte(v>>16), byte(v>>8)), nil
}
