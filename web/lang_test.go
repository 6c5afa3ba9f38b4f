package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func getPage(t *testing.T, url, acceptLang, cookie string) (int, string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if acceptLang != "" {
		req.Header.Set("Accept-Language", acceptLang)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "webkube-lang", Value: cookie})
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res
}

// The language follows Accept-Language, a remembered choice wins, and the switch only
// sends the browser back to a path on this dashboard.
func TestLanguage(t *testing.T) {
	e := startEnv(t, "node-1")
	_, body, _ := getPage(t, e.url+"/", "ko-KR,ko;q=0.9,en;q=0.8", "")
	for _, want := range []string{`<html lang="ko">`, "파드", "레플리카셋", `data-lang="en"`, `id="i18n-catalogue"`, "첫 파드 만들기"} {
		if !strings.Contains(body, want) {
			t.Errorf("Korean overview lacks %q", want)
		}
	}
	_, body, _ = getPage(t, e.url+"/", "ko-KR,ko;q=0.9", "en")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, ">Pods<") || strings.Contains(body, "레플리카셋") {
		t.Errorf("cookie en did not win over Accept-Language ko")
	}
	_, body, _ = getPage(t, e.url+"/", "fr", "")
	if !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("an unknown language did not fall back to English")
	}
	code, _, res := getPage(t, e.url+"/lang/ko?back=/editor", "", "")
	if code != http.StatusSeeOther || res.Header.Get("Location") != "/editor" {
		t.Errorf("switch: %d to %q, want 303 to /editor", code, res.Header.Get("Location"))
	}
	var got string
	for _, c := range res.Cookies() {
		if c.Name == "webkube-lang" {
			got = c.Value
		}
	}
	if got != "ko" {
		t.Errorf("switch set cookie %q, want ko", got)
	}
	for _, back := range []string{"//evil.example/x", "https://evil.example/", "javascript:alert(1)"} {
		if _, _, res := getPage(t, e.url+"/lang/en?back="+back, "", ""); res.Header.Get("Location") != "/" {
			t.Errorf("back=%s redirected to %q, want /", back, res.Header.Get("Location"))
		}
	}
}
