package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"webkube/internal/eventually"
	"webkube/web/lessons"
)

// TestLessonsByClicking: a learner finishes every lesson by clicking only, on the real
// binary (real containers, probes, exec and logs), first in Korean from the empty
// overview's "start the first lesson", then in English after resetting each lesson. A
// step is ticked only when the watched cluster got there, then shows its explanation.
func TestLessonsByClicking(t *testing.T) {
	c := startCluster(t, "10.237.0.0/16", "wkb")
	b := dashBrowser(t)
	base := "http://" + c.addr
	for _, lang := range []string{"ko", "en"} {
		start := time.Now()
		dashRun(t, b, "overview", 20*time.Second, chromedp.Navigate(base+"/"))
		dashWaitJS(t, b, "live", `!!(window.wk && window.wk.ready)`, 20*time.Second)
		if dashEval(t, b, `document.documentElement.lang`) != lang {
			dashRun(t, b, "switch language", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=lang-switch]`)))
			dashWaitJS(t, b, "page in "+lang, fmt.Sprintf(`document.documentElement.lang === %q && !!(window.wk && window.wk.ready)`, lang), 20*time.Second)
		}
		if lang == "ko" {
			dashWaitJS(t, b, "empty overview offers the first lesson", `getComputedStyle(document.querySelector('[data-testid=first-steps]')).display !== 'none'`, 10*time.Second)
			if got := dashEval(t, b, `document.querySelector('[data-testid=start-first-lesson]').textContent`); got != "첫 레슨 시작하기" {
				t.Fatalf("first-lesson button says %q", got)
			}
			dashRun(t, b, "start the first lesson", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=start-first-lesson]`)))
		} else {
			dashRun(t, b, "first lesson", 20*time.Second, chromedp.Navigate(base+"/lessons/pod"))
		}
		all := lessons.All()
		for i, l := range all {
			if lang == "en" {
				dashWaitJS(t, b, l.ID+" live", fmt.Sprintf(`!!document.querySelector('#lesson[data-lesson=%s]') && !!(window.wk && window.wk.ready)`, l.ID), 20*time.Second)
				dashEval(t, b, `(document.querySelector('[data-testid=lesson-reset]').click(), "")`)
				dashRun(t, b, "confirm the reset", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=confirm-ok]`)))
				dashWaitJS(t, b, l.ID+" reset", `document.querySelector('[data-testid=lesson-progress]').dataset.done === "0"`, 20*time.Second)
			}
			clickThroughLesson(t, b, l, lang)
			if i+1 < len(all) {
				dashRun(t, b, "next lesson", 10*time.Second, chromedp.Click(chromedp.CSS(`[data-testid=lesson-next]`)))
			}
		}
		dashShot(t, b, "lessons-all-done-"+lang)
		t.Logf("%s: %d lessons by clicking in %v", lang, len(all), time.Since(start).Round(100*time.Millisecond))
	}
}

// clickThroughLesson presses the current step's button until every step is done.
func clickThroughLesson(t *testing.T, b context.Context, l *lessons.Lesson, lang string) {
	t.Helper()
	dashWaitJS(t, b, "lesson "+l.ID+" live", fmt.Sprintf(`!!document.querySelector('#lesson[data-lesson=%s]') && !!(window.wk && window.wk.ready)`, l.ID), 20*time.Second)
	if lang == "ko" && dashEval(t, b, `String(/[\uac00-\ud7a3]/.test(document.querySelector('#lesson h2').textContent))`) != "true" {
		t.Errorf("lesson %s title %q is not Korean", l.ID, dashEval(t, b, `document.querySelector('#lesson h2').textContent`))
	}
	for _, st := range l.Steps {
		done := fmt.Sprintf(`String(!!document.querySelector('[data-testid=lesson-step][data-step=%q][data-done=true]'))`, st.ID)
		if dashEval(t, b, fmt.Sprintf(`String(!!document.querySelector('[data-testid=lesson-step][data-step=%q][data-current=true]'))`, st.ID)) != "true" {
			t.Fatalf("%s/%s is not the current step before its button", l.ID, st.ID)
		}
		// The steps re-render when the cluster changes, so a click can land on a button just
		// replaced; press again (the actions are idempotent) while the step is still current.
		for try := 0; try < 4 && dashEval(t, b, done) != "true"; try++ {
			dashEval(t, b, `(document.querySelector('[data-testid=lesson-step][data-current=true] [data-testid=lesson-do]') || {click() {}}).click(), ""`)
			if ok, _ := eventually.Within(30*time.Second, func() (bool, string) { return dashEval(t, b, done) == "true", "" }); ok {
				break
			}
		}
		dashWaitJS(t, b, l.ID+"/"+st.ID+" done", done+` === "true"`, 60*time.Second)
		if dashEval(t, b, fmt.Sprintf(`String(!!document.querySelector('[data-testid=lesson-step][data-step=%q] [data-testid=lesson-explain]'))`, st.ID)) != "true" {
			t.Errorf("%s/%s done without its explanation", l.ID, st.ID)
		}
	}
	dashWaitJS(t, b, l.ID+" complete", `!!document.querySelector('[data-testid=lesson-complete]')`, 10*time.Second)
}
