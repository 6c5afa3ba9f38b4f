package web

import (
	"regexp"
	"strings"
	"testing"

	"webkube/web/lessons"
)

var (
	// What is not prose: scripts, styles, templates (YAML), code and preformatted text.
	notProse = regexp.MustCompile(`(?is)<(script|style|template|pre|code|textarea|kbd)\b.*?</(script|style|template|pre|code|textarea|kbd)>`)
	tag      = regexp.MustCompile(`(?s)<[^>]*>`)
)

// englishIn returns the runs of English words in a page's prose (englishRun: three in a
// row; names, kinds and commands come one or two at a time inside Korean text).
func englishIn(html string) []string {
	text := tag.ReplaceAllString(notProse.ReplaceAllString(html, " "), "\n")
	var runs []string
	for _, r := range englishRun.FindAllString(text, -1) {
		if !strings.HasPrefix(r, "kubectl ") { // a command to type, as the notes print them
			runs = append(runs, r)
		}
	}
	return runs
}

// Every page a Korean learner opens speaks Korean: no sentence of its prose is left in
// English (the steps page once was entirely English, and the editor's example buttons).
func TestPagesInKorean(t *testing.T) {
	e := startEnv(t, "node-1")
	paths := []string{"/", "/editor", "/steps", "/lessons"}
	for _, l := range lessons.All() {
		paths = append(paths, "/lessons/"+l.ID)
	}
	for _, p := range paths {
		_, body, _ := getPage(t, e.url+p, "ko-KR,ko;q=0.9", "")
		if runs := englishIn(body); len(runs) > 0 {
			t.Errorf("%s: %d English runs in Korean, e.g. %q", p, len(runs), runs[:min(len(runs), 5)])
		}
	}
}
