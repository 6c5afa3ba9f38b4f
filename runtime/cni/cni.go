// Package cni gives each pod of a node its own network namespace, plugged into the node's
// Linux bridge by the standard CNI plugins (bridge + host-local + loopback), the way a
// kubelet's container runtime does it. It also writes the per-pod /etc/hosts,
// /etc/resolv.conf and hostname files that the pod's containers bind-mount.
//
// Everything lives under Config.DataDir — the conflist, libcni's result cache, host-local's
// IP reservations and one directory per pod — so webkube never touches /var/lib/cni and
// several nodes (one bridge and subnet each) can share one host.
package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/pkg/netns"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// Config describes one node's pod network.
type Config struct {
	DataDir string // root of all CNI state for this node, e.g. <data>/nodes/node-1/cni
	Bridge  string // Linux bridge name, at most 15 bytes, e.g. "wkbr0"
	Subnet  string // pod CIDR of this node, e.g. "10.244.1.0/24"
	// ClusterCIDR holds the pod subnets of all nodes, e.g. "10.244.0.0/16": traffic to it
	// keeps the pod's source address. Default: Subnet.
	ClusterCIDR string
	PluginDirs  []string // where the CNI plugin binaries are; default /usr/lib/cni, /opt/cni/bin

	// DNS written into every pod's resolv.conf. With no Nameservers the host's
	// (non-loopback) nameservers are used, like dnsPolicy Default.
	Nameservers   []string
	ClusterDomain string // default "cluster.local"

	Logger *slog.Logger
}

// Network is a pod's network as SetUp left it. The file paths are meant to be bind-mounted
// into each of the pod's containers.
type Network struct {
	PodUID         string `json:"podUID"`
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	NetnsPath      string `json:"netnsPath"`
	IP             string `json:"ip"`
	Hostname       string `json:"hostname"`
	HostsPath      string `json:"hostsPath"`
	ResolvConfPath string `json:"resolvConfPath"`
	HostnamePath   string `json:"hostnamePath"`
}

// Manager sets up and tears down pod networks on one node.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	cni    *libcni.CNIConfig
	bridge *libcni.NetworkConfigList
	lo     *libcni.NetworkConfigList
	gw     net.IP

	mu    sync.Mutex
	locks map[string]*podLock // serialises SetUp/TearDown of one pod
}

type podLock struct {
	mu   sync.Mutex
	refs int
}

const recordFile = "network.json"

// requiredPlugins are the binaries of containernetworking-plugins this package runs.
var requiredPlugins = []string{"bridge", "host-local", "loopback"}

// NewManager validates cfg, checks the CNI plugins are installed and writes the node's
// conflist under DataDir/net.d (for people to read; it is loaded from memory).
func NewManager(cfg Config) (*Manager, error) {
	if cfg.DataDir == "" || !filepath.IsAbs(cfg.DataDir) {
		return nil, fmt.Errorf("cni: DataDir must be an absolute path, got %q", cfg.DataDir)
	}
	if cfg.Bridge == "" || len(cfg.Bridge) > 15 {
		return nil, fmt.Errorf("cni: bridge name %q must be 1-15 bytes", cfg.Bridge)
	}
	ip, subnet, err := net.ParseCIDR(cfg.Subnet)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("cni: subnet %q is not an IPv4 CIDR", cfg.Subnet)
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = subnet.String()
	}
	_, cluster, err := net.ParseCIDR(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cni: cluster CIDR %q: %w", cfg.ClusterCIDR, err)
	}
	cfg.ClusterCIDR = cluster.String()
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, p := range requiredPlugins {
		if _, err := invoke.FindInPath(p, cfg.PluginDirs); err != nil {
			return nil, fmt.Errorf("cni: plugin %q not found in %v: install the Debian package containernetworking-plugins", p, cfg.PluginDirs)
		}
	}
	if len(cfg.Nameservers) == 0 {
		cfg.Nameservers = hostNameservers("/etc/resolv.conf")
	}

	for _, d := range []string{"net.d", "cache", "ipam", "pods"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cni: %w", err)
		}
	}
	conf := bridgeConfList(cfg.Bridge, subnet.String(), filepath.Join(cfg.DataDir, "ipam"))
	bridge, err := libcni.ConfListFromBytes(conf)
	if err != nil {
		return nil, fmt.Errorf("cni: conflist: %w", err)
	}
	lo, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"webkube-loopback","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		return nil, fmt.Errorf("cni: loopback conflist: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "net.d", "10-webkube.conflist"), conf, 0o644); err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	if err := ensureMasquerade(subnet.String(), cfg.ClusterCIDR, cfg.Bridge); err != nil {
		return nil, err
	}
	gw := make(net.IP, len(subnet.IP.To4()))
	copy(gw, subnet.IP.To4())
	gw[3]++
	return &Manager{
		cfg:    cfg,
		log:    cfg.Logger,
		cni:    libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, filepath.Join(cfg.DataDir, "cache"), &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}),
		bridge: bridge,
		lo:     lo,
		gw:     gw,
		locks:  map[string]*podLock{},
	}, nil
}

// bridgeConfList is the node's network: a bridge that is the pods' gateway (so the host
// reaches pod IPs directly) and host-local addresses from the node's subnet.
func bridgeConfList(bridge, subnet, ipamDir string) []byte {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "webkube-" + bridge,
		"plugins": []any{map[string]any{
			"type":      "bridge",
			"bridge":    bridge,
			"isGateway": true,
			// Masquerade is one rule for the whole subnet (see ensureMasquerade), not a
			// chain per pod: that halves the cost of each pod's ADD and DEL.
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": subnet}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": ipamDir,
			},
		}},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return b
}

// masqueradeRule lets pods reach beyond the cluster (the host's network, the internet) under
// the host's address, leaving pod-to-pod (on any node) and host-to-pod traffic untouched.
func masqueradeRule(subnet, cluster, bridge string) []string {
	return []string{"-t", "nat", "POSTROUTING", "-s", subnet, "!", "-d", cluster,
		"-m", "comment", "--comment", "webkube pods on " + bridge, "-j", "MASQUERADE"}
}

func iptables(op string, rule []string) error {
	args := append([]string{"-w", rule[0], rule[1], op}, rule[2:]...)
	out, err := exec.Command("iptables", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func ensureMasquerade(subnet, cluster, bridge string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return errors.New("cni: iptables not found: install the Debian package iptables")
	}
	rule := masqueradeRule(subnet, cluster, bridge)
	if iptables("-C", rule) == nil {
		return nil
	}
	if err := iptables("-A", rule); err != nil {
		return fmt.Errorf("cni: %w", err)
	}
	return nil
}

// RemoveNode undoes what NewManager and the pods did to the host once the node is gone:
// it tears down any pod network left, then removes the masquerade rule and the bridge.
func (m *Manager) RemoveNode(ctx context.Context) error {
	nws, err := m.List(ctx)
	if err != nil {
		return err
	}
	for _, nw := range nws {
		if err := m.TearDown(ctx, nw.PodUID); err != nil {
			return err
		}
	}
	_, subnet, _ := net.ParseCIDR(m.cfg.Subnet)
	rule := masqueradeRule(subnet.String(), m.cfg.ClusterCIDR, m.cfg.Bridge)
	for iptables("-C", rule) == nil {
		if err := iptables("-D", rule); err != nil {
			return fmt.Errorf("cni: %w", err)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + m.cfg.Bridge); err == nil {
		if out, err := exec.Command("ip", "link", "del", m.cfg.Bridge).CombinedOutput(); err != nil {
			return fmt.Errorf("cni: delete bridge %s: %w: %s", m.cfg.Bridge, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// Gateway is the bridge's address, the pods' default route.
func (m *Manager) Gateway() net.IP { return m.gw }

// BridgeName is the node's Linux bridge.
func (m *Manager) BridgeName() string { return m.cfg.Bridge }

// SetUp gives the pod a network namespace with an IP on the bridge and writes its hosts,
// resolv.conf and hostname files. It is idempotent: for a pod already set up (even by an
// earlier process) it returns the same namespace and IP.
func (m *Manager) SetUp(ctx context.Context, podUID, namespace, name string) (Network, error) {
	if err := checkUID(podUID); err != nil {
		return Network{}, err
	}
	unlock := m.lock(podUID)
	defer unlock()

	dir := m.podDir(podUID)
	if nw, err := m.readRecord(podUID); err == nil && nsAlive(nw.NetnsPath) {
		return nw, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Network{}, fmt.Errorf("cni: %w", err)
	}
	nsPath, reused, err := ensureNetns(dir)
	if err != nil {
		return Network{}, fmt.Errorf("cni: netns for pod %s: %w", podUID, err)
	}
	rt := m.runtimeConf(podUID, nsPath, "eth0")

	var res *types100.Result
	if reused {
		// An earlier process got this far and died. If its ADD finished, libcni's cache has
		// the result (and host-local still holds the IP); otherwise clear what it left.
		if cached, err := m.cni.GetNetworkListCachedResult(m.bridge, rt); err == nil && cached != nil {
			res, _ = types100.NewResultFromResult(cached)
		}
		if res == nil {
			if err := m.cni.DelNetworkList(ctx, m.bridge, rt); err != nil {
				m.log.Warn("cni: clearing partial setup", "pod", podUID, "err", err)
			}
		}
	}
	if !reused {
		// A new namespace for a pod that had one (the host rebooted, or the mount went):
		// release the old address first, host-local refuses a second one for the same pod.
		if cached, err := m.cni.GetNetworkListCachedResult(m.bridge, rt); err == nil && cached != nil {
			if err := m.cni.DelNetworkList(ctx, m.bridge, m.runtimeConf(podUID, "", "eth0")); err != nil {
				return Network{}, fmt.Errorf("cni: release old address of pod %s: %w", podUID, err)
			}
		}
	}
	if res == nil {
		r, err := m.cni.AddNetworkList(ctx, m.bridge, rt)
		if err != nil {
			return Network{}, fmt.Errorf("cni: add pod %s/%s to %s: %w", namespace, name, m.cfg.Bridge, err)
		}
		if res, err = types100.NewResultFromResult(r); err != nil {
			return Network{}, fmt.Errorf("cni: result: %w", err)
		}
	}
	if _, err := m.cni.AddNetworkList(ctx, m.lo, m.runtimeConf(podUID, nsPath, "lo")); err != nil {
		return Network{}, fmt.Errorf("cni: loopback: %w", err)
	}
	ip := firstIPv4(res)
	if ip == nil {
		return Network{}, fmt.Errorf("cni: no IPv4 address in result for pod %s", podUID)
	}

	nw := Network{
		PodUID:         podUID,
		Namespace:      namespace,
		Name:           name,
		NetnsPath:      nsPath,
		IP:             ip.String(),
		Hostname:       hostname(name),
		HostsPath:      filepath.Join(dir, "hosts"),
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
	}
	if err := m.writeFiles(nw); err != nil {
		return Network{}, err
	}
	// The record is written last: its presence means the setup completed.
	if err := writeJSON(filepath.Join(dir, recordFile), nw); err != nil {
		return Network{}, fmt.Errorf("cni: %w", err)
	}
	return nw, nil
}

// TearDown releases the pod's IP, removes its namespace and files. Tearing down a pod that
// has no network is not an error.
func (m *Manager) TearDown(ctx context.Context, podUID string) error {
	if err := checkUID(podUID); err != nil {
		return err
	}
	unlock := m.lock(podUID)
	defer unlock()

	dir := m.podDir(podUID)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	nsPath, err := findNetns(dir)
	if err != nil {
		return fmt.Errorf("cni: %w", err)
	}
	// The plugins skip the in-namespace part when no namespace is given, but still release
	// the IP and iptables rules; give them the path only while it is a live namespace.
	live := nsPath
	if !nsAlive(nsPath) {
		live = ""
	}
	if err := m.cni.DelNetworkList(ctx, m.bridge, m.runtimeConf(podUID, live, "eth0")); err != nil {
		return fmt.Errorf("cni: del pod %s: %w", podUID, err)
	}
	if err := m.cni.DelNetworkList(ctx, m.lo, m.runtimeConf(podUID, live, "lo")); err != nil {
		m.log.Debug("cni: loopback del", "pod", podUID, "err", err)
	}
	if nsPath != "" {
		if err := netns.LoadNetNS(nsPath).Remove(); err != nil {
			return fmt.Errorf("cni: remove netns of pod %s: %w", podUID, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("cni: %w", err)
	}
	return nil
}

// List returns every pod network present on disk, complete or not, so a restarted kubelet
// can tear down those whose pods are gone. An incomplete one has only PodUID set.
func (m *Manager) List(ctx context.Context) ([]Network, error) {
	entries, err := os.ReadDir(filepath.Join(m.cfg.DataDir, "pods"))
	if err != nil {
		return nil, fmt.Errorf("cni: %w", err)
	}
	var out []Network
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		nw, err := m.readRecord(e.Name())
		if err != nil {
			nw = Network{PodUID: e.Name()}
		}
		out = append(out, nw)
	}
	return out, nil
}

func (m *Manager) podDir(uid string) string { return filepath.Join(m.cfg.DataDir, "pods", uid) }

func (m *Manager) readRecord(uid string) (Network, error) {
	var nw Network
	b, err := os.ReadFile(filepath.Join(m.podDir(uid), recordFile))
	if err != nil {
		return nw, err
	}
	if err := json.Unmarshal(b, &nw); err != nil {
		return nw, err
	}
	return nw, nil
}

func (m *Manager) runtimeConf(uid, nsPath, ifName string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: uid,
		NetNS:       nsPath,
		IfName:      ifName,
		// Kubernetes' runtimes pass these; IgnoreUnknown lets plugins that don't know them run.
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_UID", uid}},
	}
}

func (m *Manager) lock(uid string) func() {
	m.mu.Lock()
	l := m.locks[uid]
	if l == nil {
		l = &podLock{}
		m.locks[uid] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, uid)
		}
		m.mu.Unlock()
	}
}

// writeFiles writes the files Kubernetes' kubelet manages for a pod.
func (m *Manager) writeFiles(nw Network) error {
	hosts := "# Kubernetes-managed hosts file (webkube).\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n" +
		nw.IP + "\t" + nw.Hostname + "\n"
	var rc strings.Builder
	d := m.cfg.ClusterDomain
	fmt.Fprintf(&rc, "search %s.svc.%s svc.%s %s\n", nw.Namespace, d, d, d)
	for _, ns := range m.cfg.Nameservers {
		fmt.Fprintf(&rc, "nameserver %s\n", ns)
	}
	rc.WriteString("options ndots:5\n")
	for path, data := range map[string]string{
		nw.HostsPath:      hosts,
		nw.ResolvConfPath: rc.String(),
		nw.HostnamePath:   nw.Hostname + "\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return fmt.Errorf("cni: %w", err)
		}
	}
	return nil
}

// ensureNetns returns the pod's namespace in dir, creating it if there is none.
func ensureNetns(dir string) (path string, reused bool, err error) {
	path, err = findNetns(dir)
	if err != nil {
		return "", false, err
	}
	if path != "" {
		if nsAlive(path) {
			return path, true, nil
		}
		// A mount point file left without its mount (e.g. after a reboot).
		if err := netns.LoadNetNS(path).Remove(); err != nil {
			return "", false, err
		}
	}
	ns, err := netns.NewNetNS(dir)
	if err != nil {
		return "", false, err
	}
	return ns.GetPath(), false, nil
}

// findNetns returns the netns mount point in dir ("" if none): pkg/netns names them cni-*.
func findNetns(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "cni-*"))
	if err != nil {
		return "", err
	}
	if len(m) == 0 {
		return "", nil
	}
	return m[0], nil
}

func nsAlive(path string) bool {
	if path == "" {
		return false
	}
	closed, err := netns.LoadNetNS(path).Closed()
	return err == nil && !closed
}

func firstIPv4(res *types100.Result) net.IP {
	for _, ipc := range res.IPs {
		if ip4 := ipc.Address.IP.To4(); ip4 != nil {
			return ip4
		}
	}
	return nil
}

// hostname is the pod name cut to a DNS label, as the kubelet does.
func hostname(name string) string {
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-.")
	}
	return name
}

func checkUID(uid string) error {
	if uid == "" || uid == "." || uid == ".." || strings.ContainsAny(uid, "/\\\x00") {
		return fmt.Errorf("cni: invalid pod UID %q", uid)
	}
	return nil
}

// hostNameservers reads the host's nameservers, skipping loopback ones (a local resolver
// such as systemd-resolved's 127.0.0.53 is unreachable from a pod's namespace).
func hostNameservers(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
				out = append(out, f[1])
			}
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
