package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The container runtime is watched more often than the node's heartbeat: a containerd
// that dies turns the node NotReady within a second, not at the next heartbeat, and a
// restarted one gets its pods synced at once.

// runtimeCheckTimeout bounds one check: a containerd that is down must not hang it.
const runtimeCheckTimeout = 3 * time.Second

// probeRuntime asks RuntimeHealthy, nil when there is none.
func (k *Kubelet) probeRuntime(ctx context.Context) error {
	if k.cfg.RuntimeHealthy == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, runtimeCheckTimeout)
	defer cancel()
	return k.cfg.RuntimeHealthy(ctx)
}

// runtimeErr is why the runtime was down at the last check, nil if it answered.
func (k *Kubelet) runtimeErr() error {
	k.rtMu.Lock()
	defer k.rtMu.Unlock()
	return k.rtErr
}

func (k *Kubelet) watchRuntime(ctx context.Context) {
	k.every(ctx, k.cfg.RuntimeCheck, nil, func() { k.checkRuntime(ctx) })
}

// checkRuntime acts on a change: down, the node turns NotReady with the reason and events
// say so; back, the node is Ready again and every pod is synced, which reattaches their
// containers and restarts those that died meanwhile, as their restartPolicy says.
func (k *Kubelet) checkRuntime(ctx context.Context) {
	err := k.probeRuntime(ctx)
	if ctx.Err() != nil {
		return
	}
	now := k.cfg.Clock.Now()
	k.rtMu.Lock()
	prev, since := k.rtErr, k.rtSince
	k.rtErr = err
	if err != nil && prev == nil {
		k.rtSince = now
	}
	k.rtMu.Unlock()
	node := &corev1.ObjectReference{Kind: "Node", Name: k.cfg.NodeName, UID: types.UID(k.cfg.NodeName)}
	switch {
	case prev == nil && err != nil:
		k.log.Error("container runtime is down; node NotReady", "err", err)
		k.rec.Eventf(node, corev1.EventTypeWarning, "ContainerRuntimeDown", "Container runtime is down: %v", err)
		k.rec.Eventf(node, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", k.cfg.NodeName)
	case prev != nil && err == nil:
		down := now.Sub(since).Round(10 * time.Millisecond)
		k.log.Info("container runtime is back; node Ready, syncing every pod", "down", down)
		k.rec.Eventf(node, corev1.EventTypeNormal, "ContainerRuntimeReady", "Container runtime is back after %s down (%v)", down, prev)
		k.rec.Eventf(node, corev1.EventTypeNormal, "NodeReady", "Node %s status is now: NodeReady", k.cfg.NodeName)
		pods, _ := k.pods.List(everything)
		for _, p := range pods {
			k.queue.Add(podKey(p))
		}
	default:
		return
	}
	select {
	case k.kick <- struct{}{}: // the heartbeat writes the node status now
	default:
	}
}
