package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/pkg/netns"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// ResetNode undoes on the host what a node's Manager did, from its state in dataDir alone
// (`webkube reset`, with webkube stopped): every pod network is torn down (address
// released, veth and namespace removed), then the node's masquerade rule and bridge go.
// It returns the bridge's name ("" when dataDir holds no conflist). Errors are collected,
// not fatal: a reset does as much as it can.
func ResetNode(ctx context.Context, dataDir string, logger *slog.Logger) (string, error) {
	if logger == nil {
		logger = slog.Default()
	}
	conf, err := os.ReadFile(filepath.Join(dataDir, "net.d", "10-webkube.conflist"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cni: %w", err)
	}
	var parsed struct {
		Plugins []struct {
			Bridge string `json:"bridge"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(conf, &parsed); err != nil || len(parsed.Plugins) == 0 || parsed.Plugins[0].Bridge == "" {
		return "", fmt.Errorf("cni: %s names no bridge", filepath.Join(dataDir, "net.d"))
	}
	br := parsed.Plugins[0].Bridge
	bridge, err := libcni.ConfListFromBytes(conf)
	if err != nil {
		return br, fmt.Errorf("cni: conflist: %w", err)
	}
	lo, _ := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"webkube-loopback","plugins":[{"type":"loopback"}]}`))
	m := &Manager{cfg: Config{DataDir: dataDir, Bridge: br}, log: logger, bridge: bridge, lo: lo, locks: map[string]*podLock{},
		cni: libcni.NewCNIConfigWithCacheDir([]string{"/usr/lib/cni", "/opt/cni/bin"}, filepath.Join(dataDir, "cache"),
			&invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}})}
	var errs []error
	nws, err := m.List(ctx)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, nw := range nws {
		if err := m.TearDown(ctx, nw.PodUID); err != nil {
			// The plugins failed: still take the namespace away, which takes the veth.
			errs = append(errs, err)
			if ns, _ := findNetns(m.podDir(nw.PodUID)); ns != "" {
				_ = netns.LoadNetNS(ns).Remove()
			}
		}
	}
	errs = append(errs, RemoveBridge(br))
	return br, errors.Join(errs...)
}

// RemoveBridge deletes a node bridge and every masquerade rule made for it (whatever
// subnet it was made with), as ResetNode does once the pods are gone.
func RemoveBridge(bridge string) error {
	var errs []error
	if out, err := exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, `--comment "webkube pods on `+bridge+`"`) {
				continue
			}
			// -S prints rules as arguments; quoting is only around the comment.
			args := []string{"-w", "-t", "nat", "-D"}
			args = append(args, splitRule(strings.TrimPrefix(line, "-A "))...)
			if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out)))
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
		// Veths of pods whose namespace is gone already went with it; any other goes now.
		if out, err := exec.Command("ip", "-o", "link", "show", "master", bridge).Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) > 1 {
					name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
					_ = exec.Command("ip", "link", "del", name).Run()
				}
			}
		}
		if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("cni: delete bridge %s: %w: %s", bridge, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// splitRule splits an `iptables -S` line into arguments, keeping "quoted words" whole.
func splitRule(line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"')
			if end < 0 {
				return append(out, line[1:])
			}
			out = append(out, line[1:end+1])
			line = line[end+2:]
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		out = append(out, word)
		line = rest
	}
	return out
}
