package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"webkube/internal/eventually"
)

// A learner finishes the Pod and ReplicaSet lessons by clicking only, from the empty
// overview, in Korean and in English: each step's button is pressed, and the page marks
// the step done only when the watched cluster got there.
func TestBrowserLessonsByClicking(t *testing.T) {
	for _, lang := range []string{"ko", "en"} {
		t.Run(lang, func(t *testing.T) {
			e := startEnv(t, "node-1", "node-2")
			b := browser(t)
			run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
			waitJS(t, b, "live", `window.wk && window.wk.ready`, 20*time.Second)
			if evalString(t, b, `document.documentElement.lang`) != lang {
				run(t, b, "switch language", 10*time.Second, click(`[data-testid=lang-switch]`))
				waitJS(t, b, "page in "+lang, fmt.Sprintf(`document.documentElement.lang === %q && window.wk && window.wk.ready`, lang), 20*time.Second)
			}
			waitJS(t, b, "empty-state offer visible", `getComputedStyle(document.querySelector('[data-testid=first-steps]')).display !== 'none'`, 5*time.Second)
			wantText := map[string]string{"ko": "첫 레슨 시작하기", "en": "Start the first lesson"}[lang]
			if got := evalString(t, b, `document.querySelector('[data-testid=start-first-lesson]').textContent`); got != wantText {
				t.Fatalf("first-lesson button says %q, want %q", got, wantText)
			}
			shot(t, b, "lessons-overview-empty-"+lang)
			run(t, b, "start the first lesson", 10*time.Second, click(`[data-testid=start-first-lesson]`))
			finishLesson(t, b, "pod", lang)
			run(t, b, "next lesson", 10*time.Second, click(`[data-testid=lesson-next]`))
			finishLesson(t, b, "replicaset", lang)
			shot(t, b, "lessons-rs-done-"+lang)
		})
	}
}

// finishLesson presses the current step's button until every step is done.
func finishLesson(t *testing.T, b context.Context, id, lang string) {
	t.Helper()
	waitJS(t, b, "lesson "+id+" live", fmt.Sprintf(`document.querySelector('#lesson[data-lesson=%s]') && window.wk && window.wk.ready`, id), 20*time.Second)
	title := evalString(t, b, `document.querySelector('#lesson h2').textContent`)
	if lang == "ko" && !strings.ContainsAny(title, "파드레플리카셋") {
		t.Errorf("lesson %s title %q is not Korean", id, title)
	}
	for i := 0; i < 10; i++ {
		if evalString(t, b, `String(!!document.querySelector('[data-testid=lesson-complete]'))`) == "true" {
			return
		}
		step := evalString(t, b, `document.querySelector('[data-testid=lesson-step][data-current=true]').dataset.step`)
		// The steps re-render on every watched change, so a click can land on a button just
		// replaced; press again (the actions are idempotent) if the step is still current.
		done := fmt.Sprintf(`String(!!document.querySelector('[data-testid=lesson-step][data-step=%q][data-done=true]'))`, step)
		for try := 0; try < 4 && evalString(t, b, done) != "true"; try++ {
			if evalString(t, b, fmt.Sprintf(`String(!!document.querySelector('[data-testid=lesson-step][data-step=%q][data-current=true] [data-testid=lesson-do]'))`, step)) == "true" {
				// Clicked from within the page, so the button cannot be swapped out between
				// finding it and clicking it.
				evalString(t, b, `(document.querySelector('[data-testid=lesson-step][data-current=true] [data-testid=lesson-do]').click(), "clicked")`)
			}
			ok, _ := eventually.Within(10*time.Second, func() (bool, string) { return evalString(t, b, done) == "true", "" })
			if ok {
				break
			}
		}
		waitJS(t, b, id+"/"+step+" done", done+` === "true"`, 20*time.Second)
	}
	t.Fatalf("lesson %s not complete after 10 presses", id)
}
