// Package probebreak says how to make a container's probes fail for real, from inside
// the container: nothing about probe results is faked, the container itself is changed so
// the kubelet's own probes see it fail and act (liveness: restart; readiness: out of the
// endpoints). For an httpGet probe it flips the built-in echo sample's switch (the echo
// server then answers 503 until it restarts); for an exec probe that checks a file it
// removes the file. The dashboard runs the commands over pods/exec, on webkube's own
// cluster and on any other alike.
package probebreak

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/runtime/images/samples/echo"
)

// UnhealthyPath is the echo sample's switch; a wget of it failing means the program is
// not webkube's echo.
const UnhealthyPath = echo.UnhealthyPath

// Commands are the commands, run inside the container, that make its probes
// fail: one per distinct httpGet port or checked file. A container whose probes are all
// tcpSocket or gRPC (or that has none) gets an error: there is no honest way to break them
// from inside without knowing the program.
func Commands(c *corev1.Container) ([][]string, error) {
	var cmds [][]string
	add := func(cmd []string) {
		if !slices.ContainsFunc(cmds, func(x []string) bool { return slices.Equal(x, cmd) }) {
			cmds = append(cmds, cmd)
		}
	}
	var skipped []string
	for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		switch {
		case pr == nil:
		case pr.HTTPGet != nil:
			if pr.HTTPGet.Scheme == corev1.URISchemeHTTPS {
				skipped = append(skipped, "an HTTPS httpGet probe")
				continue
			}
			port, err := probePort(c, pr.HTTPGet.Port)
			if err != nil {
				return nil, err
			}
			add([]string{"wget", "-q", "-O", "/dev/null", "http://127.0.0.1:" + strconv.Itoa(port) + echo.UnhealthyPath})
		case pr.Exec != nil:
			if f := checkedFile(pr.Exec.Command); f != "" {
				add([]string{"rm", "-f", f})
			} else {
				skipped = append(skipped, "an exec probe that checks no file")
			}
		case pr.TCPSocket != nil:
			skipped = append(skipped, "a tcpSocket probe")
		case pr.GRPC != nil:
			skipped = append(skipped, "a gRPC probe")
		}
	}
	if len(cmds) == 0 {
		if len(skipped) == 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("container %q has no probe", c.Name))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("container %q: cannot make %s fail", c.Name, strings.Join(skipped, ", ")))
	}
	return cmds, nil
}

// probePort resolves an httpGet port, which may name one of the container's ports.
func probePort(c *corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, apierrors.NewBadRequest(fmt.Sprintf("container %q has no port named %q", c.Name, p.StrVal))
}

// checkedFile is the file an exec probe such as `cat /tmp/healthy`, `test -e f` or
// `sh -c "ls f"` checks; "" for any other command.
func checkedFile(cmd []string) string {
	if len(cmd) == 3 && (cmd[0] == "sh" || cmd[0] == "/bin/sh") && cmd[1] == "-c" {
		cmd = strings.Fields(cmd[2])
	}
	switch {
	case len(cmd) == 2 && (cmd[0] == "cat" || cmd[0] == "ls" || cmd[0] == "stat"):
		return cmd[1]
	case len(cmd) == 3 && cmd[0] == "test" && (cmd[1] == "-f" || cmd[1] == "-e"):
		return cmd[2]
	case len(cmd) == 4 && cmd[0] == "[" && cmd[3] == "]" && (cmd[1] == "-f" || cmd[1] == "-e"):
		return cmd[2]
	}
	return ""
}
