package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// Config is what the command line sets.
type Config struct {
	Addr           string   // dashboard (http)
	AllowedHosts   []string // names the dashboard answers to besides loopback and --addr's host
	APIAddr        string   // Kubernetes API (https, token)
	DataDir        string
	Nodes          int // nodes with a real kubelet on containerd
	SimulatedNodes int // nodes whose pods turn Running without containers
	Containerd     string
	Mirrors        map[string]string
	ServiceCIDR    string
	NodePortAddr   string
	IngressAddr    string // the ingress controller's HTTP proxy; "" turns it off
	IngressTLSAddr string // its HTTPS proxy (spec.tls); "" turns it off
	ProxyMode      string
	PodNetwork     *net.IPNet // node i gets the i-th /24 of it
	BridgePrefix   string
	logLevel       slog.Level
}

type mirrorFlag map[string]string

func (m mirrorFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mirrorFlag) Set(v string) error {
	host, url, ok := strings.Cut(v, "=")
	if !ok || host == "" || url == "" {
		return fmt.Errorf("want HOST=URL, e.g. docker.io=http://127.0.0.1:5000")
	}
	m[host] = url
	return nil
}

type listFlag struct{ list *[]string }

func (l listFlag) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}
func (l listFlag) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, "/ ") {
		return fmt.Errorf("want a host name or address such as webkube.lan or 192.168.1.5")
	}
	*l.list = append(*l.list, v)
	return nil
}

func parseFlags(args []string) (Config, error) {
	cfg := Config{Mirrors: map[string]string{}}
	fs := flag.NewFlagSet("webkube", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address of the dashboard (http); any non-loopback address requires the token")
	fs.Var(listFlag{&cfg.AllowedHosts}, "allowed-host", "a name (or address) the dashboard may be opened as besides localhost, 127.0.0.1, [::1] and --addr's host; others are refused, which stops DNS rebinding (repeatable)")
	fs.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:6443", "address of the Kubernetes API (https with a bearer token; see <data-dir>/kubeconfig)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./webkube-data", "where the database, kubeconfig, containerd state and logs live")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "number of nodes with a real kubelet running pods on containerd (needs root)")
	fs.IntVar(&cfg.SimulatedNodes, "simulated-nodes", 0, "number of simulated nodes whose pods turn Running without containers")
	fs.StringVar(&cfg.Containerd, "containerd", "", "address of an existing containerd to use instead of starting one")
	fs.Var(mirrorFlag(cfg.Mirrors), "registry-mirror", "HOST=URL: pull images of registry HOST from URL, e.g. docker.io=http://127.0.0.1:5000 (repeatable)")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.96.0.0/16", "range Service cluster IPs come from")
	fs.StringVar(&cfg.NodePortAddr, "nodeport-addr", "0.0.0.0", "host address NodePort Services listen on")
	fs.StringVar(&cfg.IngressAddr, "ingress-addr", "127.0.0.1:8081", "address of the built-in ingress controller's HTTP proxy, which routes requests by the Ingresses' hosts and paths (\"\" turns it off)")
	fs.StringVar(&cfg.IngressTLSAddr, "ingress-tls-addr", "127.0.0.1:8443", "address of the ingress controller's HTTPS proxy, which serves each Ingress's spec.tls Secret by SNI and routes as the HTTP one (\"\" turns it off)")
	fs.StringVar(&cfg.ProxyMode, "proxy-mode", "iptables", "how Service traffic reaches pods: iptables (kernel NAT rules, as kube-proxy) or userspace (a Go proxy that also counts bytes)")
	podNet := fs.String("pod-network", "10.244.0.0/16", "range pod IPs come from; node i gets its i-th /24")
	fs.StringVar(&cfg.BridgePrefix, "bridge-prefix", "wkbr", "name prefix of the nodes' Linux bridges (node i: <prefix><i-1>)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return cfg, errUsage
		}
		return cfg, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "webkube: unexpected argument %q\n", fs.Arg(0))
		return cfg, errUsage
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	_, ipnet, err := net.ParseCIDR(*podNet)
	if err != nil || ipnet.IP.To4() == nil {
		return cfg, fmt.Errorf("--pod-network %q: want an IPv4 CIDR such as 10.244.0.0/16", *podNet)
	}
	if ones, _ := ipnet.Mask.Size(); ones > 23 {
		return cfg, fmt.Errorf("--pod-network %q: too small, want /23 or larger", *podNet)
	}
	cfg.PodNetwork = ipnet
	if len(cfg.BridgePrefix) > 12 {
		return cfg, fmt.Errorf("--bridge-prefix %q: at most 12 characters (Linux interface names are short)", cfg.BridgePrefix)
	}
	if cfg.ProxyMode != "iptables" && cfg.ProxyMode != "userspace" {
		return cfg, fmt.Errorf("--proxy-mode %q: want iptables or userspace", cfg.ProxyMode)
	}
	if cfg.IngressAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.IngressAddr); err != nil {
			return cfg, fmt.Errorf("--ingress-addr %q: want host:port such as 127.0.0.1:8081", cfg.IngressAddr)
		}
	}
	if cfg.IngressTLSAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.IngressTLSAddr); err != nil {
			return cfg, fmt.Errorf("--ingress-tls-addr %q: want host:port such as 127.0.0.1:8443", cfg.IngressTLSAddr)
		}
	}
	if cfg.Nodes < 0 || cfg.SimulatedNodes < 0 {
		return cfg, fmt.Errorf("--nodes and --simulated-nodes must be >= 0")
	}
	return cfg, nil
}
