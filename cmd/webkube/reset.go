package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerdclient "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"webkube/cluster/serviceproxy"
	"webkube/runtime/cni"
	wkcontainerd "webkube/runtime/containerd"
)

// resetConfig is what `webkube reset` is told.
type resetConfig struct {
	dataDir      string
	bridgePrefix string // "" until known: the flag, else read from the data dir, else the default
	data         bool   // delete the data dir too
}

// runReset is `webkube reset`: with webkube stopped, remove from the host everything that
// webkube made for a data dir (as k3s-killall.sh does for k3s): its pods' containers and
// shims, their network namespaces and veths, the nodes' bridges and masquerade rules, the
// ClusterIP interface and the service proxy's iptables chains, and anything still mounted
// under the data dir; with --data the data dir itself. Other webkubes (another data dir
// and bridge prefix) are left alone.
func runReset(args []string) error {
	cfg, err := parseResetFlags(args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Minute)
	defer stop()
	return reset(ctx, cfg, logger)
}

func parseResetFlags(args []string) (resetConfig, error) {
	var cfg resetConfig
	fs := flag.NewFlagSet("webkube reset", flag.ContinueOnError)
	fs.StringVar(&cfg.dataDir, "data-dir", "./webkube-data", "data dir of the webkube to clean up after")
	fs.StringVar(&cfg.bridgePrefix, "bridge-prefix", "", "bridge prefix that webkube ran with (default: read from the data dir, else wkbr)")
	fs.BoolVar(&cfg.data, "data", false, "also delete the data dir: the database, kubeconfig, images and logs")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: webkube reset [--data-dir D] [--bridge-prefix P] [--data]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "webkube reset: unexpected argument %q\n", fs.Arg(0))
		return cfg, errUsage
	}
	if len(cfg.bridgePrefix) > 12 {
		return cfg, fmt.Errorf("--bridge-prefix %q: at most 12 characters", cfg.bridgePrefix)
	}
	dir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return cfg, err
	}
	if dir == "/" {
		return cfg, fmt.Errorf("--data-dir %q: refusing to reset /", cfg.dataDir)
	}
	cfg.dataDir = dir
	return cfg, nil
}

// reset does the work of runReset. Each step runs even if one before it failed; the
// errors are reported together at the end.
func reset(ctx context.Context, cfg resetConfig, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return errors.New("reset: needs root (it stops containers and removes network interfaces)")
	}
	_, statErr := os.Stat(cfg.dataDir)
	if statErr != nil && cfg.bridgePrefix == "" {
		// Without the data dir nothing says whose bridges and rules to remove; guessing the
		// default prefix could tear down another webkube's network after a typo.
		return fmt.Errorf("reset: data dir %s: %w; to clean up after a webkube whose data dir is gone, name its --bridge-prefix", cfg.dataDir, statErr)
	}
	if statErr == nil {
		unlock, err := lockDataDir(cfg.dataDir)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		defer unlock()
	}
	nodeDirs, _ := filepath.Glob(filepath.Join(cfg.dataDir, "nodes", "*", "cni"))
	if cfg.bridgePrefix == "" {
		cfg.bridgePrefix = prefixFromDataDir(nodeDirs)
	}
	var errs []error
	n, err := removeContainers(ctx, filepath.Join(cfg.dataDir, "containerd"), log)
	errs = append(errs, err)
	killed := killShims(filepath.Join(cfg.dataDir, "containerd"))
	log.Info("containers stopped", "containers", n, "orphanShimsKilled", killed)

	bridges := map[string]bool{}
	for _, d := range nodeDirs {
		br, err := cni.ResetNode(ctx, d, log)
		errs = append(errs, err)
		if br != "" {
			bridges[br] = true
		}
	}
	// Bridges of nodes whose state is gone (the data dir was deleted by hand).
	for _, br := range linksMatching(regexp.MustCompile("^" + regexp.QuoteMeta(cfg.bridgePrefix) + "[0-9]+$")) {
		if !bridges[br] {
			errs = append(errs, cni.RemoveBridge(br))
			bridges[br] = true
		}
	}
	svc := cfg.bridgePrefix + "svc"
	if _, err := os.Stat("/sys/class/net/" + svc); err == nil {
		if out, err := exec.Command("ip", "link", "del", svc).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w: %s", svc, err, strings.TrimSpace(string(out))))
		}
	}
	if _, err := exec.LookPath("iptables"); err == nil {
		errs = append(errs, serviceproxy.Cleanup(cfg.bridgePrefix))
	}
	log.Info("network removed", "bridges", sortedKeys(bridges), "serviceInterface", svc, "iptablesInstance", cfg.bridgePrefix)

	errs = append(errs, unmountUnder(cfg.dataDir))
	if cfg.data && statErr == nil {
		if err := os.RemoveAll(cfg.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("delete data dir: %w", err))
		} else {
			log.Info("data dir deleted", "dir", cfg.dataDir)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}

// prefixFromDataDir reads the bridge prefix from node-1's network config, whose bridge is
// <prefix>0; wkbr, the default, if there is none.
func prefixFromDataDir(nodeDirs []string) string {
	for _, d := range nodeDirs {
		if filepath.Base(filepath.Dir(d)) != "node-1" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "net.d", "10-webkube.conflist"))
		if err != nil {
			break
		}
		if m := regexp.MustCompile(`"bridge":\s*"([^"]+)0"`).FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return "wkbr"
}

// removeContainers starts the data dir's containerd (it stops with webkube) and kills and
// deletes every task and container in every namespace of it. The shims exit with their
// last task.
func removeContainers(ctx context.Context, dir string, log *slog.Logger) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, "config.toml")); err != nil {
		return 0, nil // containerd never ran here
	}
	d, err := wkcontainerd.NewDaemon(wkcontainerd.Config{DataDir: dir, Logger: log})
	if err != nil {
		return 0, err
	}
	if err := d.Start(ctx); err != nil {
		return 0, err
	}
	defer d.Stop()
	client, err := containerdclient.New(d.Address(), containerdclient.WithTimeout(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	nss, err := client.NamespaceService().List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		cs, err := client.Containers(nctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cs {
			if t, err := c.Task(nctx, nil); err == nil {
				if _, err := t.Delete(nctx, containerdclient.WithProcessKill); err != nil {
					errs = append(errs, fmt.Errorf("container %s: %w", c.ID(), err))
				}
			}
			if err := c.Delete(nctx, containerdclient.WithSnapshotCleanup); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", c.ID(), err))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// killShims kills, with their containers, shims still serving the containerd in dir
// (found by the -address in their command line): those containerd did not know of, or
// every shim when containerd could not start.
func killShims(dir string) int {
	sock := filepath.Join(dir, "containerd.sock")
	procs := processes()
	n := 0
	for pid, p := range procs {
		if !strings.Contains(p.cmdline, "containerd-shim") || !strings.Contains(p.cmdline, "\x00"+sock+"\x00") {
			continue
		}
		for child, c := range procs {
			if c.ppid == pid {
				_ = syscall.Kill(child, syscall.SIGKILL)
			}
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n
}

type procInfo struct {
	ppid    int
	cmdline string // NUL-separated, with a NUL at the end
}

func processes() map[int]procInfo {
	out := map[int]procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err1 := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, err2 := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err1 != nil || err2 != nil {
			continue
		}
		// stat: pid (comm) state ppid ...; comm may hold spaces, so cut after the last ')'.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out[pid] = procInfo{ppid: ppid, cmdline: string(cmd)}
	}
	return out
}

// linksMatching lists the network interfaces whose name matches re.
func linksMatching(re *regexp.Regexp) []string {
	entries, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// unmountUnder unmounts every mount point under dir, deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, 0); err != nil {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
