package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
	"webkube/runtime/probes"
)

// computeStatus derives the pod status from its containers, as the kubelet's
// generateAPIPodStatus does.
func (k *Kubelet) computeStatus(pod *corev1.Pod, st *podState, insts map[string]instances) corev1.PodStatus {
	old := pod.Status
	s := corev1.PodStatus{QOSClass: old.QOSClass}
	s.HostIP = "127.0.0.1"
	s.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	if st.network != nil && st.network.IP != "" {
		s.PodIP = st.network.IP
		s.PodIPs = []corev1.PodIP{{IP: st.network.IP}}
	}
	start := st.startTime
	s.StartTime = &start

	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := k.containerStatus(pod, st, c, insts[c.Name], old.InitContainerStatuses)
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	allReady := initDone
	var n containerCounts
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := k.containerStatus(pod, st, c, insts[c.Name], old.ContainerStatuses)
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
		n.add(cs)
	}
	for i := range pod.Spec.EphemeralContainers {
		c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		cs := k.containerStatus(pod, st, &c, insts[c.Name], old.EphemeralContainerStatuses)
		s.EphemeralContainerStatuses = append(s.EphemeralContainerStatuses, cs)
	}
	s.Phase = podPhase(pod.Spec.RestartPolicy, s.InitContainerStatuses, initDone, n)
	s.Conditions = podConditions(metav1.NewTime(k.cfg.Clock.Now()), old.Conditions, &s, st.network != nil, initDone, allReady)
	return s
}

// containerCounts counts the app containers by state, which decides the pod's phase.
type containerCounts struct {
	pending, running, stopped, succeeded, failed int
}

func (n *containerCounts) add(cs corev1.ContainerStatus) {
	switch {
	case cs.State.Running != nil:
		n.running++
	case cs.State.Terminated != nil:
		n.stopped++
		if cs.State.Terminated.ExitCode == 0 {
			n.succeeded++
		} else {
			n.failed++
		}
	case cs.State.Waiting != nil:
		if cs.LastTerminationState.Terminated != nil {
			n.stopped++
		} else {
			n.pending++
		}
	}
}

// podPhase is the kubelet's getPhase: Pending until the init containers are done (Failed
// if one failed and nothing restarts), then from the app containers and the restart
// policy.
func podPhase(policy corev1.RestartPolicy, inits []corev1.ContainerStatus, initDone bool, n containerCounts) corev1.PodPhase {
	switch {
	case !initDone:
		if policy == corev1.RestartPolicyNever {
			for _, cs := range inits {
				if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
					return corev1.PodFailed
				}
			}
		}
		return corev1.PodPending
	case n.pending > 0:
		return corev1.PodPending
	case n.running > 0:
		return corev1.PodRunning
	case n.stopped > 0:
		switch {
		case policy == corev1.RestartPolicyAlways:
			return corev1.PodRunning // it will be restarted
		case n.succeeded == n.stopped:
			return corev1.PodSucceeded
		case policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		default:
			return corev1.PodRunning
		}
	}
	return corev1.PodPending
}

// podConditions are the pod's five conditions, each keeping its lastTransitionTime while
// its status stays, with the kubelet's messages naming the containers not ready or not
// done; PodScheduled stays as the scheduler wrote it.
func podConditions(now metav1.Time, old []corev1.PodCondition, s *corev1.PodStatus, networked, initDone, allReady bool) []corev1.PodCondition {
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now}
		if ok {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason = reason
		}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	terminalDone := s.Phase == corev1.PodSucceeded
	notReady := "ContainersNotReady"
	if terminalDone {
		notReady = "PodCompleted"
	}
	conds := []corev1.PodCondition{
		cond("PodReadyToStartContainers", networked, ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized"),
		cond(corev1.ContainersReady, allReady, notReady),
		cond(corev1.PodReady, allReady, notReady),
		cond(corev1.PodScheduled, true, ""),
	}
	for i := range conds {
		c := &conds[i]
		if c.Status == corev1.ConditionFalse && (c.Type == corev1.ContainersReady || c.Type == corev1.PodReady) && !terminalDone {
			if names := unready(s.ContainerStatuses); len(names) > 0 {
				c.Message = fmt.Sprintf("containers with unready status: %v", names)
			}
		}
		if c.Type == corev1.PodInitialized && c.Status == corev1.ConditionFalse {
			var names []string
			for _, cs := range s.InitContainerStatuses {
				if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
					names = append(names, cs.Name)
				}
			}
			c.Message = fmt.Sprintf("containers with incomplete status: %v", names)
		}
	}
	for _, o := range old {
		if o.Type == corev1.PodScheduled {
			conds[4] = o
		}
	}
	return conds
}

func unready(statuses []corev1.ContainerStatus) []string {
	var names []string
	for _, cs := range statuses {
		if !cs.Ready {
			names = append(names, cs.Name)
		}
	}
	return names
}

func (k *Kubelet) containerStatus(pod *corev1.Pod, st *podState, c *corev1.Container, in instances, old []corev1.ContainerStatus) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: ""}
	for _, o := range old {
		if o.Name == c.Name {
			cs.ImageID = o.ImageID
		}
	}
	cur, prev := in.latest(), in.previous()
	if cur != nil {
		cs.RestartCount = int32(cur.RestartCount)
		cs.ContainerID = "containerd://" + cur.ID
	}
	if w, ok := st.waiting[c.Name]; ok && (cur == nil || cur.State != containers.StateRunning) {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		if cur != nil {
			cs.LastTerminationState.Terminated = terminated(cur)
		}
	} else if cur == nil {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	} else {
		switch cur.State {
		case containers.StateRunning:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
			started, ready := true, true
			if ps := st.probes[cur.ID]; ps != nil {
				started, ready = ps.results()
			} else if c.ReadinessProbe != nil || c.StartupProbe != nil {
				ready = false
			}
			cs.Started = &started
			cs.Ready = ready
		case containers.StateExited:
			cs.State.Terminated = terminated(cur)
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if prev != nil && cs.LastTerminationState.Terminated == nil {
			cs.LastTerminationState.Terminated = terminated(prev)
		}
	}
	if cs.Started == nil {
		f := false
		cs.Started = &f
	}
	return cs
}

func terminated(s *containers.Status) *corev1.ContainerStateTerminated {
	reason := s.Reason
	if reason == "" {
		reason = "Error"
		if s.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &corev1.ContainerStateTerminated{ExitCode: s.ExitCode, Reason: reason, ContainerID: "containerd://" + s.ID,
		StartedAt: metav1.NewTime(s.StartedAt), FinishedAt: metav1.NewTime(s.FinishedAt)}
}

// --- probes ---

// ensureProbes starts the probe workers of a running container instance once.
func (k *Kubelet) ensureProbes(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, s *containers.Status) {
	if c.LivenessProbe == nil && c.ReadinessProbe == nil && c.StartupProbe == nil {
		return
	}
	if _, ok := st.probes[s.ID]; ok {
		return
	}
	ps := &probeSet{name: c.Name}
	st.probes[s.ID] = ps
	// This very instance may have been probed by a kubelet before a restart: carry over
	// what it reported, as the kubelet's status manager does, until a probe here says
	// otherwise. Starting from "not ready" would drop the pod from its Services at every
	// restart of webkube.
	wasStarted, wasReady := reported(pod, c.Name, s.ID)
	ip := ""
	if st.network != nil {
		ip = st.network.IP
	}
	target := probes.Target{PodIP: ip, Container: c.DeepCopy(), ContainerID: s.ID, Exec: execer{k.cfg.Runtime}}
	key := podKey(pod)
	ref := pod.DeepCopy()
	id := s.ID
	startOthers := func() {
		if c.LivenessProbe != nil {
			ps.liveness = probes.NewWorker(probes.Liveness, c.LivenessProbe, target, func(u probes.Update) { k.onProbe(ctx, ref, key, id, c.Name, u) })
			ps.liveness.Start(ctx, s.StartedAt)
		}
		if c.ReadinessProbe != nil {
			ps.readiness = probes.NewWorker(probes.Readiness, c.ReadinessProbe, target, func(u probes.Update) { k.onProbe(ctx, ref, key, id, c.Name, u) })
			if wasReady {
				ps.readiness.Assume(probes.Success)
			}
			ps.readiness.Start(ctx, s.StartedAt)
		}
	}
	if c.StartupProbe != nil && !wasStarted {
		var once bool
		ps.startup = probes.NewWorker(probes.Startup, c.StartupProbe, target, func(u probes.Update) {
			k.onProbe(ctx, ref, key, id, c.Name, u)
			if u.Result == probes.Success && !once {
				once = true
				ps.mu.Lock()
				startOthers()
				ps.mu.Unlock()
			}
		})
		// Startup fails "unknown" until it first succeeds.
		ps.startup.Start(ctx, s.StartedAt)
		return
	}
	startOthers()
}

// reported says whether the pod's status in the API shows container instance id of
// container name as started and as ready.
func reported(pod *corev1.Pod, name, id string) (started, ready bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == name && cs.ContainerID == "containerd://"+id && cs.State.Running != nil {
			return cs.Started != nil && *cs.Started, cs.Ready
		}
	}
	return false, false
}

func (k *Kubelet) onProbe(ctx context.Context, pod *corev1.Pod, key, id, name string, u probes.Update) {
	if u.Probe == probes.Failure {
		k.rec.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", u.Kind, u.Message)
	}
	if u.Result == probes.Failure && (u.Kind == probes.Liveness || u.Kind == probes.Startup) {
		k.rec.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", name, lower(string(u.Kind)))
		grace := 30 * time.Second
		if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
		}
		go func() {
			if s, err := k.cfg.Runtime.Status(ctx, id); err == nil {
				start := time.Now()
				k.runPreStopHooks(ctx, pod, []containers.Status{s}, grace)
				grace = max(0, grace-time.Since(start))
			}
			if err := k.cfg.Runtime.Stop(ctx, id, grace); err != nil {
				k.log.Warn("kill unhealthy container", "pod", key, "container", name, "err", err)
			}
			k.queue.Add(key)
		}()
		return
	}
	k.queue.Add(key)
}

func (k *Kubelet) stopProbes(st *podState) {
	for id, ps := range st.probes {
		ps.stop()
		delete(st.probes, id)
	}
}

type execer struct{ rt *containers.Runtime }

func (e execer) ExecProbe(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	var out probes.ExecOutput
	code, err := e.rt.Exec(ctx, id, containers.ExecOptions{Command: cmd, Stdout: &out, Stderr: &out})
	return code, bytes.TrimSpace(out.Bytes()), err
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }
