package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"webkube/web/i18n"
)

// withLang puts the request's language (remembered cookie, else Accept-Language) into its
// context, so templates and handlers translate with i18n.T(ctx, …).
func withLang(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		cookie := ""
		if ck, err := r.Cookie(i18n.Cookie); err == nil {
			cookie = ck.Value
		}
		lang := i18n.Negotiate(cookie, r.Header.Get("Accept-Language"))
		c.SetRequest(r.WithContext(i18n.WithLang(r.Context(), lang)))
		c.Response().Header().Add("Vary", "Accept-Language, Cookie")
		return next(c)
	}
}

// setLang remembers the chosen language for a year and goes back to the page it came from
// (only a path on this dashboard, never another site).
func setLang(c echo.Context) error {
	lang := i18n.Supported(c.Param("lang"))
	http.SetCookie(c.Response(), &http.Cookie{Name: i18n.Cookie, Value: lang, Path: "/",
		MaxAge: int((365 * 24 * time.Hour).Seconds()), SameSite: http.SameSiteLaxMode, HttpOnly: true})
	back := "/"
	if u, err := url.Parse(c.QueryParam("back")); err == nil && u.Host == "" && u.Scheme == "" && len(u.Path) > 0 && u.Path[0] == '/' && (len(u.Path) < 2 || u.Path[1] != '/') {
		back = u.RequestURI()
	}
	return c.Redirect(http.StatusSeeOther, back)
}

func langOf(c echo.Context) string { return i18n.LangOf(c.Request().Context()) }
