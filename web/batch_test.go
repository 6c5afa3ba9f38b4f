package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"webkube/internal/eventually"
)

// The overview lists Jobs and CronJobs with kubectl's words (Running, 0/1), in both
// languages, from the informer caches.
func TestOverviewListsJobsAndCronJobs(t *testing.T) {
	e := startEnv(t)
	e.c.MustKubectl(t, "", "create", "job", "pi", "--image=busybox", "--", "echo", "3.14")
	e.c.MustKubectl(t, "", "create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
	get := func(lang string) string {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/", nil)
		req.AddCookie(&http.Cookie{Name: "lang", Value: lang})
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	eventually.That(t, 10*time.Second, "job and cronjob rows on the overview", func() (bool, string) {
		page := get("en")
		return strings.Contains(page, `data-testid="job-row" data-name="pi"`) && strings.Contains(page, "Running") &&
			strings.Contains(page, "0/1") && strings.Contains(page, `data-testid="cronjob-row" data-name="tick"`) &&
			strings.Contains(page, "*/5 * * * *") && strings.Contains(page, "CronJobs"), page
	})
	if page := get("ko"); !strings.Contains(page, "크론잡") || !strings.Contains(page, "잡") {
		t.Fatalf("Korean overview lacks the Job and CronJob headings")
	}
}
