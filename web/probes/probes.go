// Package probes is the pod page's probe card: each container's liveness, readiness and
// startup probes with their settings, what failing each one does (readiness: out of the
// Services' endpoints; liveness: the container is restarted), and where the pod stands.
package probes

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// View is the card's model.
type View struct {
	Namespace     string
	RestartPolicy string
	Services      []string // Services whose selector picks this pod: readiness decides their endpoints
	Containers    []Container
}

// Container is one container's probes and state.
type Container struct {
	Name      string
	Ready     bool
	Restarts  int32
	LastState string // why the previous instance ended, if it did
	Probes    []Probe
}

// Probe is one probe's settings, with Kubernetes' defaults where the spec left them out.
type Probe struct {
	Kind    string // liveness, readiness, startup
	Handler string // httpGet, tcpSocket, exec, grpc
	Target  string // what is checked: a URL, host:port or a command
	Delay   int32  // initialDelaySeconds
	Period  int32  // periodSeconds
	Timeout int32  // timeoutSeconds
	Success int32  // successThreshold
	Failure int32  // failureThreshold
}

// Any says whether any container has a probe.
func (v View) Any() bool {
	for _, c := range v.Containers {
		if len(c.Probes) > 0 {
			return true
		}
	}
	return false
}

// Of builds the card for p; svcs are the Services of its namespace.
func Of(p *corev1.Pod, svcs []*corev1.Service) View {
	v := View{Namespace: p.Namespace, RestartPolicy: string(p.Spec.RestartPolicy)}
	if v.RestartPolicy == "" {
		v.RestartPolicy = string(corev1.RestartPolicyAlways)
	}
	for _, s := range svcs {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
			v.Services = append(v.Services, s.Name)
		}
	}
	sort.Strings(v.Services)
	status := map[string]corev1.ContainerStatus{}
	for _, cs := range p.Status.ContainerStatuses {
		status[cs.Name] = cs
	}
	for _, c := range p.Spec.Containers {
		cs := status[c.Name]
		cv := Container{Name: c.Name, Ready: cs.Ready, Restarts: cs.RestartCount}
		if t := cs.LastTerminationState.Terminated; t != nil {
			cv.LastState = t.Reason + " (exit " + strconv.Itoa(int(t.ExitCode)) + ")"
		}
		for _, k := range []struct {
			kind string
			pr   *corev1.Probe
		}{{"startup", c.StartupProbe}, {"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}} {
			if k.pr != nil {
				cv.Probes = append(cv.Probes, probeOf(k.kind, k.pr, &c, p.Status.PodIP))
			}
		}
		v.Containers = append(v.Containers, cv)
	}
	return v
}

func probeOf(kind string, pr *corev1.Probe, c *corev1.Container, podIP string) Probe {
	out := Probe{Kind: kind, Delay: pr.InitialDelaySeconds, Period: orDefault(pr.PeriodSeconds, 10),
		Timeout: orDefault(pr.TimeoutSeconds, 1), Success: orDefault(pr.SuccessThreshold, 1), Failure: orDefault(pr.FailureThreshold, 3)}
	if podIP == "" {
		podIP = "<pod IP>"
	}
	switch h := pr.ProbeHandler; {
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" {
			host = podIP
		}
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := h.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		out.Handler, out.Target = "httpGet", scheme+"://"+host+":"+port(h.HTTPGet.Port, c)+path
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		out.Handler, out.Target = "tcpSocket", host+":"+port(h.TCPSocket.Port, c)
	case h.Exec != nil:
		out.Handler, out.Target = "exec", strings.Join(h.Exec.Command, " ")
	case h.GRPC != nil:
		out.Handler, out.Target = "grpc", podIP+":"+strconv.Itoa(int(h.GRPC.Port))
	}
	return out
}

// port resolves a named port against the container's ports.
func port(p intstr.IntOrString, c *corev1.Container) string {
	if p.Type == intstr.Int {
		return p.String()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort)) + " (" + p.StrVal + ")"
		}
	}
	return p.StrVal
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}
