package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"webkube/web/i18n"
	"webkube/web/rollout"
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
