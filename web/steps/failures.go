package steps

import (
	"fmt"
	"sort"
	"strings"
	"webkube/web/i18n"

	corev1 "k8s.io/api/core/v1"
	"webkube/internal/podstatus"
)

// Waiting reasons that mean containerd could not make or keep the container.
var pullFailures = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true}

var runFailures = map[string]bool{"CrashLoopBackOff": true, "CreateContainerError": true,
	"CreateContainerConfigError": true, "RunContainerError": true}

// podFailures reports, once each, a container that cannot be pulled or keeps crashing,
// and every restart, in red with the reason the kubelet wrote.
func (d *Deriver) podFailures(old, pod *corev1.Pod, pp *podProgress, ev evFn) []Step {
	node := pod.Spec.NodeName
	if node == "" {
		return nil
	}
	prev := map[string]int32{}
	if old != nil {
		for _, c := range old.Status.ContainerStatuses {
			prev[c.Name] = c.RestartCount
		}
	}
	var out []Step
	for _, c := range pod.Status.ContainerStatuses {
		s := Step{Flow: FlowPod, N: 4, From: Kubelet(node), To: Containerd(node), Style: CRI, Fail: true, Phase: "Failed",
			Node: node, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: pp.owner,
			StoryKey: Key("Pod", pod.Namespace, pod.Name), ResourceVersion: pod.ResourceVersion}
		if w := c.State.Waiting; w != nil && (pullFailures[w.Reason] || runFailures[w.Reason]) {
			k := fmt.Sprintf("%s/%s/%d", w.Reason, c.Name, c.RestartCount)
			if pp.fails[k] {
				continue
			}
			pp.fails[k] = true
			s.Reason = w.Reason
			if pullFailures[w.Reason] {
				s.say(i18n.K("step.pull_fails"), c.Image, c.Name, w.Reason)
			} else {
				s.say(i18n.K("step.keeps_failing"), c.Name, pod.Name, w.Reason, c.RestartCount)
			}
			s.Ev = ev(i18n.K("ev.waiting"), c.Name, w.Reason, w.Message)
			out = append(out, d.mk(s))
			continue
		}
		if p, ok := prev[c.Name]; ok && c.RestartCount > p {
			s.say(i18n.K("step.restart"), c.Name, pod.Name, c.RestartCount)
			if t := c.LastTerminationState.Terminated; t != nil {
				s.say(i18n.K("step.restart_exit"), c.Name, pod.Name, c.RestartCount, t.Reason, t.ExitCode)
				s.Fail = t.Reason != "Completed"
			}
			s.Reason, s.Phase = "Restarted", string(pod.Status.Phase)
			s.Ev = ev(i18n.K("ev.restart_count"), c.Name, c.RestartCount)
			out = append(out, d.mk(s))
		}
	}
	return out
}

// readiness: a running pod turned ready or not ready (its readiness probe), which the
// kubelet writes, and which the endpoints controller acts on.
func (d *Deriver) readiness(old, pod *corev1.Pod, pp *podProgress, wasRunning bool, ev evFn) []Step {
	r := podstatus.Ready(pod)
	changed := r != pp.ready
	pp.ready = r
	if !wasRunning || !changed || old == nil || pod.Spec.NodeName == "" {
		return nil
	}
	s := Step{Flow: FlowEndpoints, N: 1, From: Kubelet(pod.Spec.NodeName), To: APIServer, Style: Write,
		Node: pod.Spec.NodeName, Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Owner: pp.owner,
		StoryKey: Key("Pod", pod.Namespace, pod.Name), ResourceVersion: pod.ResourceVersion, Phase: "Running",
		Ev: ev(i18n.K("ev.ready"), r)}
	if r {
		s.say(i18n.K("step.ready"), pod.Name)
	} else {
		s.say(i18n.K("step.not_ready"), pod.Name)
		s.Fail, s.Reason, s.Phase = true, "NotReady", "NotReady"
	}
	return []Step{d.mk(s)}
}

// eventFailure turns a failure Event into a red step: the scheduler found no node, or a
// liveness probe failed and the kubelet restarts the container.
func (d *Deriver) eventFailure(e *corev1.Event, pod *corev1.Pod) []Step {
	pp := d.pods[e.InvolvedObject.UID]
	p := eventPod(e, pod)
	s := Step{Fail: true, Reason: e.Reason, Kind: "Pod", Namespace: p.Namespace, Name: p.Name,
		StoryKey: Key("Pod", p.Namespace, p.Name), ResourceVersion: e.ResourceVersion,
		Ev: i18n.Msg{Key: i18n.K("ev.event_from"), Args: []any{e.Reason, e.Source.Component, e.Count, e.Message}}}
	if pp != nil {
		s.Owner = pp.owner
	}
	node := p.Spec.NodeName
	if node == "" && pp != nil {
		node = pp.node
	}
	switch {
	case e.Reason == "FailedScheduling":
		s.Flow, s.N, s.From, s.To, s.Style, s.Phase = FlowPod, 2, Scheduler, APIServer, Write, "Pending"
		s.say(i18n.K("step.cannot_schedule"), p.Name, e.Message)
	case e.Reason == "Unhealthy" && strings.HasPrefix(e.Message, "Liveness") && node != "" && e.Count <= 1:
		s.Flow, s.N, s.From, s.To, s.Style, s.Node = FlowPod, 4, Kubelet(node), Containerd(node), CRI, node
		s.say(i18n.K("step.liveness_fails"), p.Name, e.Message)
	case e.Reason == "Killing" && strings.Contains(e.Message, "liveness") && node != "":
		s.Flow, s.N, s.From, s.To, s.Style, s.Node = FlowPod, 4, Kubelet(node), Containerd(node), CRI, node
		s.say(i18n.K("step.liveness_kill"), p.Name, e.Message)
	default:
		return nil
	}
	return []Step{d.mk(s)}
}

// Endpoints derives the endpoints controller adding or removing pods from a Service as
// they turn ready or not ready, or go away. Only a pod that failed its readiness probe
// (its address moved to notReadyAddresses) is a failure; a deleted or scaled-away pod
// leaves the Endpoints altogether, and that is no failure. Judged from the Endpoints
// alone, so a pod event arriving later on its own watch cannot change the colour.
func (d *Deriver) Endpoints(eventType string, old, ep *corev1.Endpoints) []Step {
	if ep == nil || eventType == "DELETED" {
		return nil
	}
	before, after, unready := readyPods(old), readyPods(ep), notReadyPods(ep)
	var out []Step
	for _, name := range sortedDiff(after, before) {
		out = append(out, d.endpointSteps(ep, name, epAdds)...)
	}
	for _, name := range sortedDiff(before, after) {
		why := epGone
		if unready[name] {
			why = epNotReady
		}
		out = append(out, d.endpointSteps(ep, name, why)...)
	}
	return out
}

// What the endpoints controller saw of one pod.
const (
	epAdds     = iota // ready: it joins the Service
	epNotReady        // failed readiness: it leaves, in red
	epGone            // deleted or no longer selected: it leaves
)

func (d *Deriver) endpointSteps(ep *corev1.Endpoints, pod string, what int) []Step {
	sees := [...]string{i18n.K("step.ep_sees_ready"), i18n.K("step.ep_sees_not_ready"), i18n.K("step.ep_sees_gone")}[what]
	does := [...]string{i18n.K("step.ep_adds"), i18n.K("step.ep_removes"), i18n.K("step.ep_removes")}[what]
	evKey := [...]string{i18n.K("ev.ep_joined"), i18n.K("ev.ep_not_ready"), i18n.K("ev.ep_left")}[what]
	base := Step{Flow: FlowEndpoints, Kind: "Service", Namespace: ep.Namespace, Name: ep.Name,
		StoryKey: Key("Pod", ep.Namespace, pod), ResourceVersion: ep.ResourceVersion,
		Ev: i18n.Msg{Key: evKey, Args: []any{ep.Namespace, ep.Name, pod}}}
	if what == epNotReady {
		base.Fail, base.Reason = true, "NotReady"
	}
	s2 := base
	s2.N, s2.From, s2.To, s2.Style = 2, APIServer, EPCtrl, Watch
	s2.say(sees, pod)
	s3 := base
	s3.N, s3.From, s3.To, s3.Style = 3, EPCtrl, APIServer, Write
	s3.say(does, pod, ep.Name)
	return []Step{d.mk(s2), d.mk(s3)}
}

// notReadyPods are the pods in the Endpoints' notReadyAddresses.
func notReadyPods(ep *corev1.Endpoints) map[string]bool {
	out := map[string]bool{}
	for _, ss := range ep.Subsets {
		for _, a := range ss.NotReadyAddresses {
			if a.TargetRef != nil && a.TargetRef.Kind == "Pod" {
				out[a.TargetRef.Name] = true
			}
		}
	}
	return out
}

func readyPods(ep *corev1.Endpoints) map[string]bool {
	out := map[string]bool{}
	if ep == nil {
		return out
	}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if a.TargetRef != nil && a.TargetRef.Kind == "Pod" {
				out[a.TargetRef.Name] = true
			}
		}
	}
	return out
}

func sortedDiff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
