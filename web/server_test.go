package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"nhooyr.io/websocket"
)

// fakeDash is a dashboard over client-go's fake clientset, for the HTTP edge only.
func fakeDash(t *testing.T, token string, allowedHosts ...string) (*Dashboard, *httptest.Server) {
	t.Helper()
	d, err := New(Config{Client: fake.NewSimpleClientset(), RESTConfig: &rest.Config{Host: "http://127.0.0.1:1"}, Token: token,
		AllowedHosts: allowedHosts, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	d.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return d, srv
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func csrfFrom(t *testing.T, jar http.CookieJar, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == csrfCookie {
			return c.Value
		}
	}
	t.Fatal("no CSRF cookie")
	return ""
}

func TestTokenLogin(t *testing.T) {
	_, srv := fakeDash(t, "s3cret")
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	t.Run("ErrPageNeedsLogin", func(t *testing.T) {
		res, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("GET / without token: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("ErrWebsocketNeedsLogin", func(t *testing.T) {
		_, res, err := websocket.Dial(context.Background(), strings.Replace(srv.URL, "http", "ws", 1)+"/ws", nil)
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("ws without token: err %v res %v", err, res)
		}
	})
	// The login page sets the CSRF cookie the form must echo.
	res, err := c.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csrf := csrfFrom(t, jar, srv.URL)
	t.Run("ErrWrongToken", func(t *testing.T) {
		res, err := c.PostForm(srv.URL+"/login", url.Values{"token": {"nope"}, "csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Location") != "/login?failed=1" {
			t.Errorf("wrong token: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("ErrLoginWithoutCSRF", func(t *testing.T) {
		res, err := c.PostForm(srv.URL+"/login", url.Values{"token": {"s3cret"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("login without csrf: %d", res.StatusCode)
		}
	})
	t.Run("OK", func(t *testing.T) {
		res, err := c.PostForm(srv.URL+"/login", url.Values{"token": {"s3cret"}, "csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Fatalf("login: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		res, err = c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-testid="pods"`) {
			t.Errorf("after login: %d", res.StatusCode)
		}
		u, _ := url.Parse(srv.URL)
		for _, ck := range jar.Cookies(u) {
			if ck.Name == tokenCookie && strings.Contains(ck.Value, "s3cret") {
				t.Error("token cookie holds the token itself")
			}
		}
	})
}

func TestCSRF(t *testing.T) {
	_, srv := fakeDash(t, "")
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	res, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csrf := csrfFrom(t, jar, srv.URL)
	post := func(header, origin string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/ui/stepmode", strings.NewReader(`{"on":true}`))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set(csrfHeader, header)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("", ""); code != http.StatusForbidden {
		t.Errorf("no header: %d, want 403", code)
	}
	if code := post("bogus", ""); code != http.StatusForbidden {
		t.Errorf("wrong header: %d, want 403", code)
	}
	if code := post(csrf, "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("cross origin: %d, want 403", code)
	}
	// Passes CSRF; no Gate wired, so the action itself answers 501.
	if code := post(csrf, srv.URL); code != http.StatusNotImplemented {
		t.Errorf("good request: %d, want 501 (no gate)", code)
	}
}

func TestWebsocketOrigin(t *testing.T) {
	_, srv := fakeDash(t, "")
	ws := strings.Replace(srv.URL, "http", "ws", 1) + "/ws?page=overview"
	h := http.Header{}
	h.Set("Origin", "http://evil.example")
	if _, res, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: h}); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin accepted: err %v", err)
	}
	h.Set("Origin", srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	defer conn.CloseNow()
	// The snapshot ends with "ready" (its length grows with the overview's sections, so
	// it is read until then or the deadline).
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("no ready message in the snapshot: %v", err)
		}
		if strings.Contains(string(b), `"t":"ready"`) {
			return
		}
	}
}

// A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its
// own name as Host and Origin; Origin then equals Host, so only the name tells it apart.
func TestDNSRebinding(t *testing.T) {
	_, srv := fakeDash(t, "", "dash.example")
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	const evil = "rebind.attacker.example"
	// send makes the request a rebound page would make: Host and Origin are its own
	// name, and it repeats the CSRF cookie it could read from the page in the header.
	send := func(method, path, host, origin, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Host = host
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Content-Type", "application/json")
		csrf := strings.Repeat("ab", 32)
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: csrf})
		req.Header.Set(csrfHeader, csrf)
		res, err := noRedirect(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	apply := `{"yaml":"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pwned\n","mode":"apply"}`
	t.Run("ErrApply", func(t *testing.T) {
		code, body := send("POST", "/ui/apply", evil+":"+port, "http://"+evil+":"+port, apply)
		if code != http.StatusForbidden || !strings.Contains(body, evil) || !strings.Contains(body, "--allowed-host") {
			t.Fatalf("POST /ui/apply as %s: %d %s, want 403 naming the host and --allowed-host", evil, code, body)
		}
	})
	t.Run("ErrPage", func(t *testing.T) {
		if code, body := send("GET", "/", evil, "", ""); code != http.StatusForbidden || !strings.Contains(body, evil) {
			t.Fatalf("GET / as %s: %d %s", evil, code, body)
		}
	})
	t.Run("ErrForeignOriginOnAllowedHost", func(t *testing.T) {
		code, body := send("POST", "/ui/stepmode", "127.0.0.1:"+port, "http://"+evil+":"+port, `{"on":true}`)
		if code != http.StatusForbidden || !strings.Contains(body, evil) {
			t.Fatalf("foreign origin: %d %s", code, body)
		}
	})
	for _, path := range []string{"/ws/exec?namespace=default&name=p&container=c", "/ws?page=overview", "/ws/logs?namespace=default&name=p"} {
		t.Run("ErrWebsocket"+strings.SplitN(path, "?", 2)[0], func(t *testing.T) {
			h := http.Header{}
			h.Set("Origin", "http://"+evil+":"+port)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, res, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1)+path,
				&websocket.DialOptions{Host: evil + ":" + port, HTTPHeader: h})
			if err == nil {
				conn.CloseNow()
			}
			if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
				t.Fatalf("websocket %s as %s: err %v res %v, want 403", path, evil, err, res)
			}
			b, _ := io.ReadAll(res.Body)
			if !strings.Contains(string(b), evil) {
				t.Errorf("refusal does not name the host: %s", b)
			}
		})
	}
	t.Run("OKLoopbackAndAllowedNames", func(t *testing.T) {
		for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "LocalHost.:" + port, "dash.example:" + port, "dash.example"} {
			if code, body := send("POST", "/ui/stepmode", host, "http://"+host, `{"on":true}`); code != http.StatusNotImplemented {
				t.Errorf("Host %s: %d %s, want 501 (passes the edge; no gate wired)", host, code, body)
			}
		}
	})
	t.Run("OKWebsocketAllowedName", func(t *testing.T) {
		h := http.Header{}
		h.Set("Origin", "http://dash.example:"+port)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1)+"/ws?page=overview",
			&websocket.DialOptions{Host: "dash.example:" + port, HTTPHeader: h})
		if err != nil {
			t.Fatalf("allowed host refused: %v", err)
		}
		conn.CloseNow()
	})
}
