package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/web/i18n"
	"webkube/web/preview"
	"webkube/web/rollout"
)

const fieldManager = "webkube-dashboard"

type objRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// apiError answers with the API's own message, which is written for users
// (e.g. `pods "echo" not found`); anything else is logged and kept generic.
func (d *Dashboard) apiError(c echo.Context, err error) error {
	if st, ok := err.(apierrors.APIStatus); ok {
		s := st.Status()
		code := int(s.Code)
		if code == 0 {
			code = http.StatusBadRequest
		}
		// The API server's message stays as it said it; the hint is ours, in the page's language.
		return c.JSON(code, map[string]any{"error": s.Message, "reason": s.Reason, "hint": apiHint(c, s.Reason)})
	}
	d.log.Error("action failed", "err", err)
	return c.JSON(http.StatusBadGateway, map[string]any{"error": i18n.T(c.Request().Context(), "err.api_no_answer", err.Error())})
}

func bad(c echo.Context, msg string) error {
	return c.JSON(http.StatusBadRequest, map[string]any{"error": msg})
}

func (d *Dashboard) ctx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), 15*time.Second)
}

// scale sets replicas through the scale subresource, as `kubectl scale` does.
func (d *Dashboard) scale(c echo.Context) error {
	var req struct {
		objRef
		Replicas int32 `json:"replicas"`
	}
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {kind, namespace, name, replicas}")
	}
	if req.Replicas < 0 || req.Replicas > 100 {
		return bad(c, i18n.T(c.Request().Context(), "err.replicas_range"))
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, req.Replicas))
	var err error
	msg := i18n.T(c.Request().Context(), "msg.scaled", req.Kind, req.Name, req.Replicas)
	switch req.Kind {
	case "replicaset":
		if rs, gerr := d.l.rss.ReplicaSets(req.Namespace).Get(req.Name); gerr == nil {
			// A Deployment's ReplicaSet goes back: say so, rather than let it look broken.
			if ow, ok := rollout.OwnerOf(rs); ok && ow.Replicas != req.Replicas {
				msg = i18n.T(c.Request().Context(), "rollout.scaled_owned", req.Name, req.Replicas, ow.Deployment, ow.Replicas)
			}
		}
		_, err = d.client.AppsV1().ReplicaSets(req.Namespace).Patch(ctx, req.Name, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: fieldManager}, "scale")
	case "deployment":
		_, err = d.client.AppsV1().Deployments(req.Namespace).Patch(ctx, req.Name, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: fieldManager}, "scale")
	default:
		return bad(c, i18n.T(c.Request().Context(), "err.only_scale"))
	}
	if err != nil {
		return d.apiError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": msg})
}

func (d *Dashboard) deleteObject(c echo.Context) error {
	var req objRef
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {kind, namespace, name}")
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	var err error
	switch req.Kind {
	case "pod":
		err = d.client.CoreV1().Pods(req.Namespace).Delete(ctx, req.Name, opts)
	case "replicaset":
		err = d.client.AppsV1().ReplicaSets(req.Namespace).Delete(ctx, req.Name, opts)
	case "deployment":
		err = d.client.AppsV1().Deployments(req.Namespace).Delete(ctx, req.Name, opts)
	case "service":
		err = d.client.CoreV1().Services(req.Namespace).Delete(ctx, req.Name, opts)
	case "job":
		err = d.client.BatchV1().Jobs(req.Namespace).Delete(ctx, req.Name, opts)
	case "cronjob":
		err = d.client.BatchV1().CronJobs(req.Namespace).Delete(ctx, req.Name, opts)
	case "statefulset":
		err = d.client.AppsV1().StatefulSets(req.Namespace).Delete(ctx, req.Name, opts)
	case "daemonset":
		err = d.client.AppsV1().DaemonSets(req.Namespace).Delete(ctx, req.Name, opts)
	case "ingress":
		err = d.client.NetworkingV1().Ingresses(req.Namespace).Delete(ctx, req.Name, opts)
	case "persistentvolumeclaim":
		err = d.client.CoreV1().PersistentVolumeClaims(req.Namespace).Delete(ctx, req.Name, opts)
	default:
		return bad(c, i18n.T(c.Request().Context(), "err.cannot_delete", req.Kind))
	}
	if err != nil {
		return d.apiError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": i18n.T(c.Request().Context(), "msg.deleted", req.Kind, req.Name)})
}

// cordon sets spec.unschedulable, as `kubectl cordon` does.
func (d *Dashboard) cordon(c echo.Context) error {
	var req struct {
		Node string `json:"node"`
		On   bool   `json:"on"`
	}
	if err := c.Bind(&req); err != nil || req.Node == "" {
		return bad(c, "want {node, on}")
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	patch := []byte(fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, req.On))
	if _, err := d.client.CoreV1().Nodes().Patch(ctx, req.Node, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return d.apiError(c, err)
	}
	word := "uncordoned"
	if req.On {
		word = "cordoned"
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": req.Node + " " + word})
}

type labelReq struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
}

// labelPreview says, before anything changes, what the ReplicaSets and Services of the
// pod's namespace will do about the new labels.
func (d *Dashboard) labelPreview(c echo.Context) error {
	var req labelReq
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, labels}")
	}
	pod, err := d.l.pods.Pods(req.Namespace).Get(req.Name)
	if err != nil {
		return c.JSON(http.StatusNotFound, map[string]any{"error": i18n.T(c.Request().Context(), "err.pod_not_found", req.Name)})
	}
	rss, _ := d.l.rss.ReplicaSets(req.Namespace).List(everything)
	svcs, _ := d.l.services.Services(req.Namespace).List(everything)
	pods, _ := d.l.pods.Pods(req.Namespace).List(everything)
	effects := preview.Relabel(pod, req.Labels, rss, svcs, pods)
	if effects == nil {
		effects = []preview.Effect{}
	}
	return c.JSON(http.StatusOK, map[string]any{"effects": effects})
}

// setLabels replaces the pod's labels with a merge patch: removed keys are sent as null,
// as `kubectl label pod/x app-` does.
func (d *Dashboard) setLabels(c echo.Context) error {
	var req labelReq
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, labels}")
	}
	pod, err := d.l.pods.Pods(req.Namespace).Get(req.Name)
	if err != nil {
		return c.JSON(http.StatusNotFound, map[string]any{"error": i18n.T(c.Request().Context(), "err.pod_not_found", req.Name)})
	}
	labels := map[string]any{}
	for k := range pod.Labels {
		labels[k] = nil
	}
	for k, v := range req.Labels {
		labels[k] = v
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	ctx, cancel := d.ctx(c)
	defer cancel()
	if _, err := d.client.CoreV1().Pods(req.Namespace).Patch(ctx, req.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return d.apiError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": i18n.T(c.Request().Context(), "msg.labels_updated", req.Name)})
}

type containerReq struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Container string `json:"container"`
}

func (d *Dashboard) pickContainer(req *containerReq) (*corev1.Pod, error) {
	pod, err := d.l.pods.Pods(req.Namespace).Get(req.Name)
	if err != nil {
		return nil, fmt.Errorf("pod %s not found", req.Name)
	}
	if req.Container == "" && len(pod.Spec.Containers) > 0 {
		req.Container = pod.Spec.Containers[0].Name
	}
	return pod, nil
}

func (d *Dashboard) stepMode(c echo.Context) error {
	if d.cfg.Gate == nil {
		return c.JSON(http.StatusNotImplemented, map[string]any{"error": i18n.T(c.Request().Context(), "err.no_stepmode")})
	}
	var req struct {
		On bool `json:"on"`
	}
	if err := c.Bind(&req); err != nil {
		return bad(c, "want {on}")
	}
	d.cfg.Gate.SetStepMode(req.On)
	on := req.On
	d.hub.publish(topicSteps, encode(msg{T: "mode", On: &on}))
	d.changes <- change{kind: "held"}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "on": on})
}

func (d *Dashboard) stepNext(c echo.Context) error {
	if d.cfg.Gate == nil {
		return c.JSON(http.StatusNotImplemented, map[string]any{"error": i18n.T(c.Request().Context(), "err.no_stepmode")})
	}
	s, ok := d.cfg.Gate.Next()
	d.changes <- change{kind: "held"}
	if !ok {
		return c.JSON(http.StatusOK, map[string]any{"ok": true, "released": 0, "message": i18n.T(c.Request().Context(), "msg.nothing_held")})
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "released": 1, "step": s.Component + ": " + s.Message})
}

// apiHint says in the page's language what an API server refusal usually means here.
func apiHint(c echo.Context, reason metav1.StatusReason) string {
	ctx := c.Request().Context()
	switch reason {
	case metav1.StatusReasonNotFound:
		return i18n.T(ctx, "hint.not_found")
	case metav1.StatusReasonAlreadyExists:
		return i18n.T(ctx, "hint.already_exists")
	case metav1.StatusReasonConflict:
		return i18n.T(ctx, "hint.conflict")
	case metav1.StatusReasonInvalid:
		return i18n.T(ctx, "hint.invalid")
	case metav1.StatusReasonForbidden:
		return i18n.T(ctx, "hint.forbidden")
	}
	return ""
}
