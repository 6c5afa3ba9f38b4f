package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/utils/clock"

	"webkube/web/i18n"
	"webkube/web/rollout"
	"webkube/web/traffic"
)

// The object pages' tools (web/rollout, web/traffic): these handlers only bind the
// request, call the feature package and word its answer in the page's language.

// rolloutUndo is `kubectl rollout undo deployment/name [--to-revision=N]`.
func (d *Dashboard) rolloutUndo(c echo.Context) error {
	var req struct {
		objRef
		Revision int64 `json:"revision"`
	}
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, revision}")
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	rc := c.Request().Context()
	out, err := rollout.Undo(ctx, d.client, req.Namespace, req.Name, req.Revision, fieldManager)
	switch {
	case errors.Is(err, rollout.ErrPaused):
		return c.JSON(http.StatusConflict, map[string]any{"error": i18n.T(rc, "rollout.err_paused", req.Name)})
	case errors.Is(err, rollout.ErrNoHistory):
		return c.JSON(http.StatusConflict, map[string]any{"error": i18n.T(rc, "rollout.err_no_history", req.Name)})
	case errors.Is(err, rollout.ErrNoRevision), errors.Is(err, rollout.ErrBadRevision):
		return c.JSON(http.StatusNotFound, map[string]any{"error": i18n.T(rc, "rollout.err_no_revision", req.Name, req.Revision)})
	case err != nil:
		return d.apiError(c, err)
	case out.Skipped:
		return c.JSON(http.StatusOK, map[string]any{"ok": true, "skipped": true, "message": i18n.T(rc, "rollout.skipped", out.Revision)})
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "revision": out.Revision, "message": i18n.T(rc, "rollout.rolled_back", req.Name, out.Revision)})
}

// rolloutPause is `kubectl rollout pause` (on) or `kubectl rollout resume`.
func (d *Dashboard) rolloutPause(c echo.Context) error {
	var req struct {
		objRef
		On bool `json:"on"`
	}
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, on}")
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	changed, err := rollout.SetPaused(ctx, d.client, req.Namespace, req.Name, req.On, fieldManager)
	if err != nil {
		return d.apiError(c, err)
	}
	rc := c.Request().Context()
	msg := i18n.T(rc, "rollout.resumed_msg", req.Name)
	switch {
	case req.On && !changed:
		msg = i18n.T(rc, "rollout.already_paused", req.Name)
	case !req.On && !changed:
		msg = i18n.T(rc, "rollout.already_resumed", req.Name)
	case req.On:
		msg = i18n.T(rc, "rollout.paused_msg", req.Name)
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "changed": changed, "message": msg})
}

// traffic is where the Service proxy's counters come from: the API's /metrics (in
// webkube and attached alike), or a source given in Config (tests). Without counters it
// says why.
func (d *Dashboard) traffic() (src TrafficSource, bytes bool, why string) {
	if d.cfg.Traffic != nil {
		return d.cfg.Traffic, d.cfg.TrafficBytes, ""
	}
	ok, bytes, why := d.metrics.state()
	if !ok {
		return nil, false, why
	}
	return d.metrics, bytes, ""
}

// trafficView is the Service page's traffic card; host is the page's own host name, where
// NodePorts (on every address of this machine) are reached.
func (d *Dashboard) trafficView(ns, name, host string) *traffic.View {
	s, err := d.l.services.Services(ns).Get(name)
	if err != nil {
		return nil
	}
	ep, _ := d.l.endpoints.Endpoints(ns).Get(name)
	v := traffic.Of(s, ep, host)
	src, bytes, why := d.traffic()
	v.Counting, v.CountsBytes, v.NoCounters = src != nil, bytes, why
	return &v
}

// trafficSend sends N requests to a Service from inside a pod and shows how the service
// proxy spread them over the ready pods.
func (d *Dashboard) trafficSend(c echo.Context) error {
	var req struct {
		objRef
		N int `json:"n"`
	}
	if err := c.Bind(&req); err != nil || req.Name == "" {
		return bad(c, "want {namespace, name, n}")
	}
	rc := c.Request().Context()
	svc, err := d.l.services.Services(req.Namespace).Get(req.Name)
	if err != nil {
		return c.JSON(http.StatusNotFound, map[string]any{"error": i18n.T(rc, "err.object_not_found", "service", req.Namespace, req.Name)})
	}
	ep, _ := d.l.endpoints.Endpoints(req.Namespace).Get(req.Name)
	pods, _ := d.l.pods.List(everything)
	s := traffic.Sender{Exec: d.execOnce, Clock: clock.RealClock{}}
	if src, _, _ := d.traffic(); src != nil {
		s.Count = func(ns, name string) map[string]uint64 {
			out := map[string]uint64{}
			for addr, t := range src.EndpointTraffic(ns, name) {
				out[addr] = t.Connections
			}
			return out
		}
	}
	// Up to 50 requests with a 2 s timeout each, one after another.
	ctx, cancel := context.WithTimeout(rc, 2*time.Minute)
	defer cancel()
	r, err := s.Send(ctx, svc, ep, pods, req.N)
	switch {
	case errors.Is(err, traffic.ErrCount):
		return bad(c, i18n.T(rc, "traffic.err_count", traffic.MaxRequests))
	case errors.Is(err, traffic.ErrNoSend):
		return bad(c, i18n.T(rc, "traffic.err_no_send"))
	case errors.Is(err, traffic.ErrNoClient):
		return c.JSON(http.StatusConflict, map[string]any{"error": i18n.T(rc, "traffic.err_no_client")})
	case err != nil:
		d.log.Warn("send requests", "service", req.Namespace+"/"+req.Name, "err", err)
		return c.JSON(http.StatusBadGateway, map[string]any{"error": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "result": r, "html": htmlIn(langOf(c), traffic.ResultView(r))})
}
