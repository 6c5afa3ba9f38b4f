package serviceproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Mode selects how Service traffic reaches endpoints.
type Mode string

const (
	// ModeUserspace relays each connection through the webkube process (splice between
	// two sockets). Connections to an endpoint that refuses are retried on another one,
	// and Stats has bytes and active connections.
	ModeUserspace Mode = "userspace"
	// ModeIPTables writes NAT rules as kube-proxy's iptables mode does: the kernel picks
	// an endpoint for each new connection (round robin with statistic nth, ClientIP
	// affinity with recent) and rewrites its destination; no byte is copied in user
	// space. Stats counts connections from the rule counters only.
	ModeIPTables Mode = "iptables"
)

// Chains a proxier owns in the nat table: WEBKUBE-SERVICES-<tag> and the other top
// chains, and per Service port WK-SVC-<tag>-<hash> and WK-SEP-<tag>-<hash>, as
// kube-proxy's KUBE-SVC-/KUBE-SEP-. The tag is a hash of Config.Instance, so several
// webkubes on one host each keep, sync and delete only their own chains, each entered
// by its own jump rules from the built-in chains.
const (
	chainServicesBase    = "WEBKUBE-SERVICES"
	chainNodePortsBase   = "WEBKUBE-NODEPORTS"
	chainPostroutingBase = "WEBKUBE-POSTROUTING"
	chainMarkMasqBase    = "WEBKUBE-MARK-MASQ"
	masqMark             = "0x4000/0x4000"
	// tagLen chars of base32 tell 32^4 ≈ 1M instances apart; with it the longest chain,
	// WK-SEP-<tag>-<14>, is 26 chars, under iptables' 28.
	tagLen = 4
)

// DefaultInstance names the proxier when Config.Instance is empty.
const DefaultInstance = "webkube"

// maxInstanceLen keeps instance names short; they appear only hashed in chain names,
// but whole in rule comments.
const maxInstanceLen = 32

// instanceTag is the few chars of an instance name that go into every chain name.
func instanceTag(instance string) string {
	h := sha256.Sum256([]byte(instance))
	return base32.StdEncoding.EncodeToString(h[:])[:tagLen]
}

// kport is one Service port as the kernel rules need it.
type kport struct {
	svcPort   string // Service port name
	clusterIP string
	port      int32
	nodeAddr  string // "" or the NodePort's host address ("0.0.0.0": every local address)
	nodePort  int32
	endpoints []endpointAddr
	affinity  time.Duration
}

// iptablesProxier keeps the nat table's webkube chains equal to the desired ports of all
// Services, rewriting them all at once with iptables-restore on every change, which is
// atomic per table and cheap at webkube's scale.
type iptablesProxier struct {
	run func(stdin string, args ...string) (string, error)

	// This instance's name (in rule comments) and chain names (see instanceTag).
	instance                                                       string
	tag                                                            string
	chainServices, chainNodePorts, chainPostrouting, chainMarkMasq string

	mu       sync.Mutex
	services map[string][]kport // by ns/name
	jumps    bool               // jump rules from the built-in chains are in place
	// held keeps updates in memory only, until release writes them all at once: at start
	// the rules a previous process left keep serving until every Service is known, instead
	// of being rewritten one Service at a time (which drops all the others meanwhile).
	held    bool
	applied string // the last rules written, to skip rewriting the same

	clock     clock.PassiveClock
	countMu   sync.Mutex
	countAt   time.Time
	countLast map[string]uint64
}

func newIPTablesProxier(instance, netns string, clk clock.PassiveClock) (*iptablesProxier, error) {
	for _, bin := range []string{"iptables", "iptables-restore", "iptables-save", "sysctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("serviceproxy: %s is missing; install the Debian packages iptables and procps", bin)
		}
	}
	run := func(stdin string, args ...string) (string, error) {
		if netns != "" {
			args = append([]string{"netns", "exec", netns}, args...)
			args = append([]string{"ip"}, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%s: %s: %w", strings.Join(args, " "), strings.TrimSpace(out.String()), err)
		}
		return out.String(), nil
	}
	tag := instanceTag(instance)
	return &iptablesProxier{
		run: run, services: map[string][]kport{}, clock: clk,
		instance:         instance,
		tag:              tag,
		chainServices:    chainServicesBase + "-" + tag,
		chainNodePorts:   chainNodePortsBase + "-" + tag,
		chainPostrouting: chainPostroutingBase + "-" + tag,
		chainMarkMasq:    chainMarkMasqBase + "-" + tag,
	}, nil
}

// jumps are the rules from the built-in chains into this instance's chains; only this
// instance adds and removes them.
func (k *iptablesProxier) jumpRules() [][2]string {
	return [][2]string{
		{"PREROUTING", k.chainServices}, {"OUTPUT", k.chainServices}, {"POSTROUTING", k.chainPostrouting},
	}
}

func (k *iptablesProxier) update(key string, ports []kport) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ports == nil {
		if _, ok := k.services[key]; !ok {
			return nil
		}
		delete(k.services, key)
	} else {
		k.services[key] = ports
	}
	if k.held {
		return nil
	}
	return k.syncLocked()
}

// hold defers writing rules until release.
func (k *iptablesProxier) hold() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held = true
}

// release writes the rules of every Service updated while held, in one iptables-restore.
func (k *iptablesProxier) release() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held = false
	return k.syncLocked()
}

func hashName(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + base32.StdEncoding.EncodeToString(h[:])[:14]
}

func (k *iptablesProxier) svcPrefix() string { return "WK-SVC-" + k.tag + "-" }
func (k *iptablesProxier) sepPrefix() string { return "WK-SEP-" + k.tag + "-" }

func (k *iptablesProxier) svcChain(key, port string) string {
	return hashName(k.svcPrefix(), key, port)
}
func (k *iptablesProxier) sepChain(key, port, addr string) string {
	return hashName(k.sepPrefix(), key, port, addr)
}

// render writes the nat table's webkube chains for iptables-restore --noflush. Chains
// in stale get flushed and deleted.
func (k *iptablesProxier) render(stale []string) string {
	var b strings.Builder
	b.WriteString("*nat\n")
	chainServices, chainNodePorts, chainPostrouting, chainMarkMasq := k.chainServices, k.chainNodePorts, k.chainPostrouting, k.chainMarkMasq
	chains := []string{chainServices, chainNodePorts, chainPostrouting, chainMarkMasq}
	var rules []string
	add := func(f string, a ...any) { rules = append(rules, fmt.Sprintf(f, a...)) }

	add("-A %s -m mark ! --mark %s -j RETURN", chainPostrouting, masqMark)
	add("-A %s -j MARK --xor-mark 0x4000", chainPostrouting)
	add("-A %s -j MASQUERADE", chainPostrouting)
	add("-A %s -j MARK --or-mark 0x4000", chainMarkMasq)

	keys := make([]string, 0, len(k.services))
	for key := range k.services {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		for _, p := range k.services[key] {
			comment := fmt.Sprintf(`-m comment --comment "%s %s:%s"`, k.instance, key, p.svcPort)
			if len(p.endpoints) == 0 {
				// No rule: the ClusterIP is a local address with no listener, so the
				// kernel answers with a reset, and NodePorts likewise.
				continue
			}
			svc := k.svcChain(key, p.svcPort)
			chains = append(chains, svc)
			add("-A %s %s -d %s/32 -p tcp --dport %d -j %s", chainServices, comment, p.clusterIP, p.port, svc)
			if p.nodePort != 0 {
				dst := ""
				if p.nodeAddr != "0.0.0.0" {
					dst = "-d " + p.nodeAddr + "/32 "
				}
				add("-A %s %s %s-p tcp --dport %d -j %s", chainNodePorts, comment, dst, p.nodePort, chainMarkMasq)
				add("-A %s %s %s-p tcp --dport %d -j %s", chainNodePorts, comment, dst, p.nodePort, svc)
			}
			seconds := int((p.affinity + time.Second - 1) / time.Second)
			if p.affinity > 0 {
				for _, e := range p.endpoints {
					sep := k.sepChain(key, p.svcPort, e.addr)
					add("-A %s %s -m recent --name %s --rcheck --seconds %d --reap --rsource -j %s", svc, comment, sep, seconds, sep)
				}
			}
			n := len(p.endpoints)
			for i, e := range p.endpoints {
				sep := k.sepChain(key, p.svcPort, e.addr)
				chains = append(chains, sep)
				if i < n-1 {
					// nth with every n-i: the first rule takes every n-th new connection,
					// the next every (n-1)-th of the rest, ... — an exact round robin.
					add("-A %s %s -m statistic --mode nth --every %d --packet 0 -j %s", svc, comment, n-i, sep)
				} else {
					add("-A %s %s -j %s", svc, comment, sep)
				}
				ip := e.addr[:strings.LastIndex(e.addr, ":")]
				// A pod reaching itself through its Service needs its source rewritten, or
				// it would answer itself directly (hairpin).
				add("-A %s %s -s %s/32 -j %s", sep, comment, ip, chainMarkMasq)
				set := ""
				if p.affinity > 0 {
					set = fmt.Sprintf("-m recent --name %s --set --rsource ", sep)
				}
				add("-A %s %s %s-p tcp -j DNAT --to-destination %s", sep, comment, set, e.addr)
			}
		}
	}
	// NodePorts last, for any local destination, as kube-proxy does.
	add("-A %s -m addrtype --dst-type LOCAL -j %s", chainServices, chainNodePorts)

	for _, c := range chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range stale {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, r := range rules {
		b.WriteString(r + "\n")
	}
	for _, c := range stale {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// ownChains lists this instance's per-Service chains in the nat table now; other
// instances' chains have another tag and are left alone.
func (k *iptablesProxier) ownChains() (map[string]bool, error) {
	out, err := k.run("", "iptables-save", "-t", "nat")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, ":"); ok && (strings.HasPrefix(name, k.svcPrefix()) || strings.HasPrefix(name, k.sepPrefix())) {
			have[strings.Fields(name)[0]] = true
		}
	}
	return have, nil
}

func (k *iptablesProxier) syncLocked() error {
	// Rewriting identical rules would reset the statistic nth counters (skewing the
	// round robin) and cost two execs for nothing.
	if k.jumps && k.applied != "" && k.render(nil) == k.applied {
		return nil
	}
	have, err := k.ownChains()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for key, ports := range k.services {
		for _, p := range ports {
			if len(p.endpoints) == 0 {
				continue
			}
			want[k.svcChain(key, p.svcPort)] = true
			for _, e := range p.endpoints {
				want[k.sepChain(key, p.svcPort, e.addr)] = true
			}
		}
	}
	var stale []string
	for c := range have {
		if !want[c] {
			stale = append(stale, c)
		}
	}
	sort.Strings(stale)
	k.applied = ""
	if _, err := k.run(k.render(stale), "iptables-restore", "--noflush"); err != nil {
		return err
	}
	// Checked on every write, not just the first: something else flushing a built-in
	// chain (a firewall reload) would otherwise cut the Services off for good.
	for _, j := range k.jumpRules() {
		if _, err := k.run("", "iptables", "-t", "nat", "-C", j[0], "-j", j[1]); err == nil {
			continue
		}
		if _, err := k.run("", "iptables", "-t", "nat", "-I", j[0], "1", "-j", j[1]); err != nil {
			return err
		}
	}
	k.jumps = true
	k.applied = k.render(nil)
	return nil
}

// enableLocalnet lets NodePorts on 127.0.0.1 be NATed to pod addresses, as kube-proxy
// does for localhost NodePorts.
func (k *iptablesProxier) enableLocalnet() error {
	_, err := k.run("", "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1")
	return err
}

// cleanup removes every rule and chain this instance put in the nat table.
func (k *iptablesProxier) cleanup() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []string
	for _, j := range k.jumpRules() {
		for {
			if _, err := k.run("", "iptables", "-t", "nat", "-D", j[0], "-j", j[1]); err != nil {
				break // no (more) such rule
			}
		}
	}
	k.jumps, k.applied = false, ""
	have, err := k.ownChains()
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("*nat\n")
	all := []string{k.chainServices, k.chainNodePorts, k.chainPostrouting, k.chainMarkMasq}
	for c := range have {
		all = append(all, c)
	}
	for _, c := range all {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, c := range all {
		fmt.Fprintf(&b, "-X %s\n", c)
	}
	b.WriteString("COMMIT\n")
	if _, err := k.run(b.String(), "iptables-restore", "--noflush"); err != nil {
		errs = append(errs, err.Error())
	}
	k.services = map[string][]kport{}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// counters reads the DNAT rules' packet counters: in the nat table only a connection's
// first packet is seen, so packets there are new connections per endpoint chain.
func (k *iptablesProxier) counters() (map[string]uint64, error) {
	out, err := k.run("", "iptables-save", "-c", "-t", "nat")
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "[") || !strings.Contains(line, "-j DNAT") {
			continue
		}
		end := strings.Index(line, "]")
		pk, _, _ := strings.Cut(line[1:end], ":")
		f := strings.Fields(line[end+1:])
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		n, _ := strconv.ParseUint(pk, 10, 64)
		m[f[1]] += n
	}
	return m, nil
}

// countersMaxAge bounds how often Stats runs iptables-save when a dashboard polls many
// Services.
const countersMaxAge = time.Second

func (k *iptablesProxier) cachedCounters() map[string]uint64 {
	k.countMu.Lock()
	defer k.countMu.Unlock()
	now := k.clock.Now()
	if k.countLast != nil && now.Sub(k.countAt) < countersMaxAge {
		return k.countLast
	}
	if cnt, err := k.counters(); err == nil {
		k.countLast, k.countAt = cnt, now
	}
	return k.countLast
}

// stats reports one Service's endpoints with the connections their rules counted.
func (k *iptablesProxier) stats(key string) []EndpointStats {
	k.mu.Lock()
	ports := k.services[key]
	k.mu.Unlock()
	if len(ports) == 0 {
		return nil
	}
	cnt := k.cachedCounters()
	var out []EndpointStats
	for _, p := range ports {
		for _, e := range p.endpoints {
			out = append(out, EndpointStats{Port: p.svcPort, Address: e.addr, Pod: e.pod, Ready: true,
				Connections: cnt[k.sepChain(key, p.svcPort, e.addr)]})
		}
	}
	return out
}

// InstanceTag is the part of this instance's chain names that tells them from other
// instances' (WEBKUBE-SERVICES-<tag>, WK-SVC-<tag>-...).
func InstanceTag(instance string) string { return instanceTag(instance) }

// Cleanup removes every nat rule and chain a Proxier of instance left behind, e.g. one
// killed before it could clean up (`webkube reset`). Other instances' rules stay.
func Cleanup(instance string) error {
	if instance == "" {
		instance = DefaultInstance
	}
	k, err := newIPTablesProxier(instance, "", clock.RealClock{})
	if err != nil {
		return err
	}
	return k.cleanup()
}
