package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/internal/eventually"

	"github.com/labstack/echo/v4"
)

// The overview lists Jobs and CronJobs with kubectl's words (Running, 0/1), in both
// languages, from the informer caches.
func TestOverviewListsJobsAndCronJobs(t *testing.T) {
	e := startEnv(t)
	e.c.MustKubectl(t, "", "create", "job", "pi", "--image=busybox", "--", "echo", "3.14")
	e.c.MustKubectl(t, "", "create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
	get := func(lang string) string { return page(t, e.url+"/", lang) }
	eventually.That(t, 10*time.Second, "job and cronjob rows on the overview", func() (bool, string) {
		page := get("en")
		return strings.Contains(page, `data-testid="job-row" data-name="pi"`) && strings.Contains(page, "Running") &&
			strings.Contains(page, "0/1") && strings.Contains(page, `data-testid="cronjob-row" data-name="tick"`) &&
			strings.Contains(page, "*/5 * * * *") && strings.Contains(page, "CronJobs") &&
			strings.Contains(page, `href="/o/job/default/pi"`), page
	})
	if page := get("ko"); !strings.Contains(page, "크론잡") || !strings.Contains(page, "잡") {
		t.Fatalf("Korean overview lacks the Job and CronJob headings")
	}
	// Their pages: the Job's counts and pod, the CronJob's schedule and policy.
	jobPage := page(t, e.url+"/o/job/default/pi", "en")
	for _, w := range []string{"Job", "pi", "completions", "0/1", "backoffLimit", "6", "Pod/pi-"} {
		if !strings.Contains(jobPage, w) {
			t.Fatalf("job page lacks %q:\n%s", w, jobPage)
		}
	}
	cjPage := page(t, e.url+"/o/cronjob/default/tick", "en")
	for _, w := range []string{"CronJob", "tick", "*/5 * * * *", "concurrencyPolicy", "Allow"} {
		if !strings.Contains(cjPage, w) {
			t.Fatalf("cronjob page lacks %q:\n%s", w, cjPage)
		}
	}
}

// page GETs url in lang and requires 200.
func page(t *testing.T, url, lang string) string {
	t.Helper()
	code, body, _ := getPage(t, url, lang, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", url, code)
	}
	return body
}

// Job and CronJob rows tick their ages like every other row (the page counts on from
// data-t) and have a Delete button like other kinds, whose dialog names who reacts; the
// dashboard deletes them.
func TestJobAndCronJobRowsTickAndDelete(t *testing.T) {
	e := startEnv(t)
	e.c.MustKubectl(t, "", "create", "job", "pi", "--image=busybox", "--", "echo", "3.14")
	e.c.MustKubectl(t, "", "create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
	row := func(page, testid, name string) string {
		i := strings.Index(page, `data-testid="`+testid+`" data-name="`+name+`"`)
		if i < 0 {
			return ""
		}
		end := strings.Index(page[i:], "</tr>")
		return page[i : i+end]
	}
	eventually.That(t, 10*time.Second, "rows with ticking ages and Delete", func() (bool, string) {
		p := page(t, e.url+"/", "en")
		job, cj := row(p, "job-row", "pi"), row(p, "cronjob-row", "tick")
		ok := func(r, kind string) bool {
			return strings.Contains(r, `<time class="age" data-t="`) && strings.Contains(r, `data-act="delete" data-kind="`+kind+`"`) &&
				strings.Contains(r, "The garbage collector then deletes its")
		}
		return ok(job, "job") && ok(cj, "cronjob"), job + "\n" + cj
	})
	for _, kind := range []string{"job", "cronjob"} {
		name := map[string]string{"job": "pi", "cronjob": "tick"}[kind]
		req := httptest.NewRequest(http.MethodPost, "/ui/delete", strings.NewReader(`{"kind":"`+kind+`","namespace":"default","name":"`+name+`"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		if err := e.d.deleteObject(echo.New().NewContext(req, rec)); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("delete %s: %v %d %s", kind, err, rec.Code, rec.Body)
		}
	}
	eventually.That(t, 10*time.Second, "both gone", func() (bool, string) {
		out := e.c.MustKubectl(t, "", "get", "jobs,cronjobs", "-o", "name")
		return !strings.Contains(out, "job.batch/pi") && !strings.Contains(out, "cronjob.batch/tick"), out
	})
}

// An Indexed Job's page shows which indexes completed and, with backoffLimitPerIndex,
// which failed (status.completedIndexes, status.failedIndexes), in both languages.
func TestIndexedJobPageShowsIndexes(t *testing.T) {
	e := startEnv(t)
	e.c.MustKubectl(t, `apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 4
  completionMode: Indexed
  backoffLimitPerIndex: 1
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
`, "apply", "-f", "-")
	ctx := context.Background()
	eventually.That(t, 10*time.Second, "indexes written to the Job's status", func() (bool, string) {
		j, err := e.c.Client.BatchV1().Jobs("default").Get(ctx, "idx", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		failed := "1"
		j.Status.CompletedIndexes, j.Status.FailedIndexes = "0,2", &failed
		_, err = e.c.Client.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err == nil, fmt.Sprint(err)
	})
	eventually.That(t, 10*time.Second, "the indexes on the Job's page", func() (bool, string) {
		p := page(t, e.url+"/o/job/default/idx", "en")
		return strings.Contains(p, `data-testid="completed-indexes">0,2<`) && strings.Contains(p, `data-testid="failed-indexes">1<`) &&
			strings.Contains(p, "Completed indexes") && strings.Contains(p, "one pod per index, 0 to 3"), p
	})
	if p := page(t, e.url+"/o/job/default/idx", "ko"); !strings.Contains(p, "완료된 인덱스") || !strings.Contains(p, "실패한 인덱스") {
		t.Fatalf("Korean Job page lacks the index headings:\n%s", p)
	}
	// A Job that is not Indexed has no such card.
	e.c.MustKubectl(t, "", "create", "job", "plain", "--image=busybox", "--", "true")
	if p := page(t, e.url+"/o/job/default/plain", "en"); strings.Contains(p, `data-testid="job-indexes"`) {
		t.Fatal("a NonIndexed Job's page shows indexes")
	}
}
