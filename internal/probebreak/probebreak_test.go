package probebreak

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestCommands(t *testing.T) {
	httpProbe := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: port}}}
	}
	execProbe := func(cmd ...string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	}
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want string // commands joined; "error: ..." for an error containing the rest
	}{
		{"seed probe pod: liveness and readiness on one port", corev1.Container{Name: "app",
			LivenessProbe: httpProbe(intstr.FromInt32(3000)), ReadinessProbe: httpProbe(intstr.FromInt32(3000))},
			"[[wget -q -O /dev/null http://127.0.0.1:3000/_webkube/unhealthy]]"},
		{"named port", corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			LivenessProbe: httpProbe(intstr.FromString("http"))},
			"[[wget -q -O /dev/null http://127.0.0.1:8080/_webkube/unhealthy]]"},
		{"unknown port name", corev1.Container{Name: "app", LivenessProbe: httpProbe(intstr.FromString("web"))},
			`error: no port named "web"`},
		{"exec cat file", corev1.Container{Name: "app", LivenessProbe: execProbe("cat", "/tmp/healthy")},
			"[[rm -f /tmp/healthy]]"},
		{"exec sh -c test", corev1.Container{Name: "app", StartupProbe: execProbe("sh", "-c", "test -e /ready")},
			"[[rm -f /ready]]"},
		{"http and exec", corev1.Container{Name: "app", LivenessProbe: execProbe("cat", "/tmp/ok"), ReadinessProbe: httpProbe(intstr.FromInt32(80))},
			"[[rm -f /tmp/ok] [wget -q -O /dev/null http://127.0.0.1:80/_webkube/unhealthy]]"},
		{"tcp only", corev1.Container{Name: "app", LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}},
			"error: cannot make a tcpSocket probe fail"},
		{"exec without a file", corev1.Container{Name: "app", LivenessProbe: execProbe("pgrep", "redis")},
			"error: an exec probe that checks no file"},
		{"no probe", corev1.Container{Name: "app"}, `error: "app" has no probe`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds, err := Commands(&tc.c)
			if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, %v; want an error with %q", cmds, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(cmds); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}
