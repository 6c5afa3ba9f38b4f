package web

import (
	"net/http"
	"strings"
	"testing"
)

// Browsers ask every page for /favicon.ico; it is served (it was a 404 on every page).
func TestFavicon(t *testing.T) {
	_, srv := fakeDash(t, "s3cret")
	res, err := http.Get(srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/svg+xml") {
		t.Errorf("/favicon.ico: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
