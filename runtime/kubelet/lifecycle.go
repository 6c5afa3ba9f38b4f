package kubelet

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"webkube/runtime/containers"
	"webkube/runtime/probes"
)

// runPreStopHooks runs the lifecycle.preStop handlers of a terminating pod's running
// containers, in parallel, within the grace period, as the kubelet does before SIGTERM.
// A failing hook is reported (FailedPreStopHook) and the container is stopped anyway.
func (k *Kubelet) runPreStopHooks(ctx context.Context, pod *corev1.Pod, list []containers.Status, grace time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range list {
		if s.State != containers.StateRunning {
			continue
		}
		c := specOf(pod, s.Name)
		if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			continue
		}
		wg.Add(1)
		go func(c *corev1.Container, id string) {
			defer wg.Done()
			if err := k.runHandler(ctx, pod, c, id, c.Lifecycle.PreStop); err != nil {
				k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
			}
		}(c, s.ID)
	}
	wg.Wait()
}

// postStartTimeout bounds a postStart hook that never returns.
const postStartTimeout = 2 * time.Minute

// postStart runs the container's lifecycle.postStart handler right after it started, as
// the kubelet does before it counts the container as running; if the hook fails, the
// container is killed (FailedPostStartHook) and restarted per the pod's restartPolicy.
func (k *Kubelet) postStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) bool {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return true
	}
	hctx, cancel := context.WithTimeout(ctx, postStartTimeout)
	err := k.runHandler(hctx, pod, c, id, c.Lifecycle.PostStart)
	cancel()
	if err == nil {
		return true
	}
	k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
	k.rec.Eventf(pod, corev1.EventTypeNormal, "Killing", "FailedPostStartHook")
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if err := k.cfg.Runtime.Stop(ctx, id, grace); err != nil {
		k.log.Warn("stopping after a failed postStart hook", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
	}
	return false
}

func (k *Kubelet) runHandler(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		code, out, err := execer{k.cfg.Runtime}.ExecProbe(ctx, id, h.Exec.Command)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", strings.Join(h.Exec.Command, " "), code, out)
		}
		return nil
	case h.HTTPGet != nil:
		p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: h.HTTPGet}, TimeoutSeconds: int32(timeLeft(ctx).Seconds()) + 1}
		ip := pod.Status.PodIP
		if res, msg := probes.Run(ctx, p, probes.Target{PodIP: ip, Container: c}); res != probes.Success {
			return fmt.Errorf("%s", msg)
		}
		return nil
	case h.TCPSocket != nil:
		// Deprecated and, as in Kubernetes, only checked for a listener.
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(h.TCPSocket.Port.IntValue())))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return nil
}

func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func timeLeft(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return 30 * time.Second
}
