package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"

	"webkube/internal/probebreak"
	"webkube/web/i18n"
)

// The break-it actions that change a container run commands in it over pods/exec, as a
// user would with `kubectl exec`: the same on webkube's own cluster and on any other, with
// the user's own permissions (pods/exec), and nothing reaching around the API.

// killCommand asks the container's main process to end (`kubectl exec … -- kill 1`).
// SIGTERM, not SIGKILL: inside its PID namespace the main process is PID 1, which the
// kernel only delivers the signals it handles; most programs (and a shell's trap) handle
// TERM, and exit with their own code for it.
var killCommand = []string{"sh", "-c", "kill -TERM 1 2>/dev/null || busybox kill -TERM 1"}

// kill ends a container's main process and answers once the kubelet has reported what
// became of it: the exit code and state of the killed instance, and the container's state now.
func (d *Dashboard) kill(c echo.Context) error {
	var req containerReq
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, container}")
	}
	rctx := c.Request().Context()
	pod, err := d.pickContainer(&req)
	if err != nil {
		return c.JSON(http.StatusNotFound, map[string]any{"error": err.Error()})
	}
	before := containerStatus(pod, req.Container)
	if before == nil || instanceID(*before) == "" {
		return c.JSON(http.StatusConflict, map[string]any{"error": i18n.T(rctx, "kill.not_running", req.Container)})
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	var out bytes.Buffer
	if err := d.execOnce(ctx, req.Namespace, req.Name, req.Container, killCommand, &out); err != nil && !isExitError(err) {
		d.log.Warn("kill container", "pod", req.Namespace+"/"+req.Name, "err", err)
		return c.JSON(http.StatusBadGateway, map[string]any{"error": i18n.T(rctx, "err.kill_failed", err.Error())})
	}
	res := map[string]any{"ok": true, "container": req.Container}
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	after, ok := d.killedInstance(waitCtx, req.Namespace, req.Name, req.Container, instanceID(*before), before.RestartCount)
	if !ok {
		res["ok"], res["message"] = false, i18n.T(rctx, "attach.kill_ignored", req.Container)
		return c.JSON(http.StatusOK, res)
	}
	t := after.LastTerminationState.Terminated
	if after.State.Terminated != nil && instanceID(*after) == instanceID(*before) {
		t = after.State.Terminated // not restarted (yet, or ever: restartPolicy)
	}
	res["exitCode"], res["reason"], res["state"], res["restarts"] = t.ExitCode, t.Reason, containerState(*after), after.RestartCount
	res["message"] = i18n.T(rctx, "kill.result", req.Container, t.ExitCode, t.Reason, containerState(*after), after.RestartCount)
	return c.JSON(http.StatusOK, res)
}

func isExitError(err error) bool {
	var e *ExitError
	return errors.As(err, &e)
}

// killedInstance waits (up to ctx) until the kubelet reports the killed instance ended: a
// restart, or that instance terminated.
func (d *Dashboard) killedInstance(ctx context.Context, ns, name, container, id string, restarts int32) (*corev1.ContainerStatus, bool) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if p, err := d.l.pods.Pods(ns).Get(name); err == nil {
			cs := containerStatus(p, container)
			switch {
			case cs == nil:
			case cs.RestartCount > restarts && cs.LastTerminationState.Terminated != nil:
				return cs, true
			case cs.State.Terminated != nil && instanceID(*cs) == id:
				return cs, true
			}
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
		}
	}
}

// breakProbe makes a container's probes fail by running probebreak's commands in it.
func (d *Dashboard) breakProbe(c echo.Context) error {
	var req containerReq
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, container}")
	}
	rctx := c.Request().Context()
	pod, err := d.pickContainer(&req)
	if err != nil {
		return c.JSON(http.StatusNotFound, map[string]any{"error": err.Error()})
	}
	ctr := podContainer(pod, req.Container)
	if ctr == nil {
		return bad(c, "pod "+req.Name+" has no container "+req.Container)
	}
	cmds, err := probebreak.Commands(ctr)
	if err != nil {
		return c.JSON(http.StatusNotImplemented, map[string]any{"error": i18n.T(rctx, "err.probe_failed", err.Error())})
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	var ran []string
	for _, cmd := range cmds {
		ran = append(ran, strings.Join(cmd, " "))
		var out bytes.Buffer
		if err := d.execOnce(ctx, pod.Namespace, pod.Name, req.Container, viaBusybox(cmd), &out); err != nil {
			msg := "`" + strings.Join(cmd, " ") + "`: " + err.Error()
			if cmd[0] == "wget" {
				msg += " (only webkube's echo sample has the " + probebreak.UnhealthyPath + " switch)"
			}
			if s := strings.TrimSpace(out.String()); s != "" {
				msg += ": " + s
			}
			return c.JSON(http.StatusBadGateway, map[string]any{"error": i18n.T(rctx, "err.probe_failed", msg)})
		}
	}
	// Say what ran, as the kubectl exec a user would type.
	msg := i18n.T(rctx, "msg.probe_broken", req.Container) + ": kubectl exec " + pod.Name + " -c " + req.Container + " -- " + strings.Join(ran, "; ")
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": msg})
}

// viaBusybox runs cmd, or busybox's applet of that name where the image has no such
// program on its PATH (webkube's images hold busybox, and many small images are busybox).
func viaBusybox(cmd []string) []string {
	return append([]string{"sh", "-c", `command -v "$0" >/dev/null && exec "$0" "$@" || exec busybox "$0" "$@"`}, cmd...)
}

func podContainer(p *corev1.Pod, name string) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}
