package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"webkube/web/templates"
)

const (
	csrfCookie  = "wk_csrf"
	tokenCookie = "wk_token"
	csrfHeader  = "X-CSRF-Token"
)

// checkHost refuses requests whose Host, or Origin when sent, is not loopback or one of
// Config.AllowedHosts. A page on another site can make its own name resolve to
// 127.0.0.1 (DNS rebinding); its requests then reach the dashboard with that name in
// Host and Origin, which is how they are told apart from the user's own.
func (d *Dashboard) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !d.hostAllowed(r.Host) {
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("host %q is not allowed: the dashboard answers only "+
				"to localhost, 127.0.0.1, [::1] and the names given with --allowed-host; to open it as %q, start webkube "+
				"with --allowed-host %s", r.Host, r.Host, hostOnly(r.Host)))
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host == "" || !d.hostAllowed(u.Host) {
				return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("origin %q is not allowed: pages of other "+
					"sites may not use the dashboard; to allow one, start webkube with --allowed-host NAME", o))
			}
		}
		return next(c)
	}
}

func (d *Dashboard) hostAllowed(hostport string) bool {
	h := hostOnly(hostport)
	if h == "" {
		return false
	}
	if h == "localhost" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return true
	}
	return d.allowed[h]
}

// hostOnly is the lower-case name or address of a Host value, without port, brackets
// or trailing dot.
func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// withCSRFCookie gives the browser a random CSRF token in a cookie; pages repeat it in a
// meta tag so scripts can send it back in a header (double submit). A cross-site page can
// make the browser send the cookie but cannot read it to fill the header.
func (d *Dashboard) withCSRFCookie(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) == 64 {
			c.Set(csrfCookie, ck.Value)
			return next(c)
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		v := hex.EncodeToString(b)
		c.SetCookie(&http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		c.Set(csrfCookie, v)
		return next(c)
	}
}

func csrfOf(c echo.Context) string {
	v, _ := c.Get(csrfCookie).(string)
	return v
}

// checkCSRF guards every state-changing request: the Origin, when sent, must be this
// host, and the header (or form field) must equal the cookie.
func (d *Dashboard) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !sameOrigin(c.Request()) {
			return echo.NewHTTPError(http.StatusForbidden, "cross-origin request refused")
		}
		ck, err := c.Cookie(csrfCookie)
		if err != nil || ck.Value == "" {
			return echo.NewHTTPError(http.StatusForbidden, "missing CSRF cookie; reload the page")
		}
		got := c.Request().Header.Get(csrfHeader)
		if got == "" {
			got = c.FormValue("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "bad CSRF token; reload the page")
		}
		return next(c)
	}
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		// Browsers send Origin on every cross-origin POST and on same-origin fetches;
		// its absence means a non-browser client, which the token cookie still guards.
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// requireToken asks for the token when the dashboard listens beyond loopback. The cookie
// holds a hash of the token, not the token.
func (d *Dashboard) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	if d.cfg.Token == "" {
		return next
	}
	want := tokenHash(d.cfg.Token)
	return func(c echo.Context) error {
		if ck, err := c.Cookie(tokenCookie); err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(want)) == 1 {
			return next(c)
		}
		if c.Request().Method == http.MethodGet && c.Request().Header.Get("Upgrade") == "" {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "sign in first")
	}
}

func tokenHash(t string) string {
	h := sha256.Sum256([]byte("webkube-dashboard\x00" + t))
	return hex.EncodeToString(h[:])
}

func (d *Dashboard) loginPage(c echo.Context) error {
	if d.cfg.Token == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return render(c, templates.Login(csrfOf(c), c.QueryParam("failed") != ""))
}

func (d *Dashboard) login(c echo.Context) error {
	if d.cfg.Token == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return d.checkCSRF(func(c echo.Context) error {
		if subtle.ConstantTimeCompare([]byte(c.FormValue("token")), []byte(d.cfg.Token)) != 1 {
			return c.Redirect(http.StatusSeeOther, "/login?failed=1")
		}
		c.SetCookie(&http.Cookie{Name: tokenCookie, Value: tokenHash(d.cfg.Token), Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode})
		return c.Redirect(http.StatusSeeOther, "/")
	})(c)
}
