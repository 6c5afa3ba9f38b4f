package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const podHead = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cm\nspec:\n"

// The CodeMirror editor knows the API server's schemas: typing under spec of a Pod offers
// its fields, a misspelt field is underlined with a suggestion before anything is sent,
// hovering a key shows its documentation, and Diff labels a change as a change.
func TestBrowserEditorSchema(t *testing.T) {
	e := startEnv(t, "node-1")
	b := browser(t)
	run(t, b, "open editor", 20*time.Second, chromedp.Navigate(e.url+"/editor"), chromedp.WaitVisible(css(`#yaml .cm-content`)))

	// Completion for spec. of a Pod: the cursor on an indented line under spec.
	run(t, b, "type under spec", 10*time.Second, paste(podHead+"  "),
		js(`(() => { const v = wk.editor.view; v.dispatch({selection: {anchor: v.state.doc.length}}); v.focus(); return true })()`),
		chromedp.KeyEvent("con"))
	waitJS(t, b, "completion shown", `(() => { const l = document.querySelector('.cm-tooltip-autocomplete'); return !!l && l.textContent.includes('containers') })()`, 10*time.Second)
	opts := evalString(t, b, `Array.from(document.querySelectorAll('.cm-tooltip-autocomplete li .cm-completionLabel')).map(e => e.textContent).join(',')`)
	if !strings.Contains(opts, "containers") || !strings.Contains(opts, "initContainers") || strings.Contains(opts, "replicas") {
		t.Errorf("completions under a Pod's spec: %s", opts)
	}
	shot(t, b, "completion")
	run(t, b, "accept", 5*time.Second, chromedp.KeyEvent("\r"))
	if got := evalString(t, b, `wk.editor.get()`); !strings.Contains(got, "spec:\n  containers:\n    - ") {
		t.Errorf("after accepting: %q", got)
	}

	// Inline validation: a misspelt field under a container, found from the schema.
	bad := podHead + "  containers:\n    - name: app\n      imagePullPolcy: Always\n      image: busybox\n"
	run(t, b, "paste misspelt", 5*time.Second, paste(bad))
	waitJS(t, b, "underlined", `wk.editor.diagnostics().some(d => d.line === 8 && d.message.includes('did you mean "imagePullPolicy"'))`, 10*time.Second)
	if n := evalString(t, b, `String(document.querySelectorAll('.cm-lintRange-error').length)`); n != "1" {
		t.Errorf("%s underlines, want 1: %s", n, evalString(t, b, `JSON.stringify(wk.editor.diagnostics())`))
	}
	shot(t, b, "lint")

	// Hover docs: the image key explains itself.
	x := evalString(t, b, `(() => { const v = wk.editor.view; const l = v.state.doc.line(9); const c = v.coordsAtPos(l.from + 7); return (c.left + 4) + ',' + (c.top + 4) })()`)
	var px, py float64
	if _, err := fmt.Sscanf(x, "%f,%f", &px, &py); err != nil {
		t.Fatal(err)
	}
	run(t, b, "hover image", 5*time.Second, chromedp.MouseEvent(chromedp.MouseMoved, px, py))
	waitJS(t, b, "hover doc", `(() => { const d = document.querySelector('[data-testid=hover-doc]'); return !!d && d.textContent.includes('spec.containers[].image') && d.textContent.includes('Container image name') })()`, 10*time.Second)
	shot(t, b, "hover")

	// Apply, change, diff: the label says what would change.
	good := podHead + "  containers:\n    - name: app\n      image: busybox:1\n"
	run(t, b, "apply", 10*time.Second, paste(good), click(`#apply`))
	waitJS(t, b, "created", `document.querySelector('#results').textContent.includes('Pod/cm created')`, 10*time.Second)
	run(t, b, "diff", 10*time.Second, paste(strings.Replace(good, "busybox:1", "busybox:2", 1)), click(`#diff`))
	waitJS(t, b, "diffed", `!!document.querySelector('[data-testid=diff-out]')`, 10*time.Second)
	res := evalString(t, b, `document.querySelector('#results').textContent`)
	if strings.Contains(res, "unchanged") || !strings.Contains(res, "would be configured") || !strings.Contains(res, "+   - image: busybox:2") {
		t.Errorf("diff result: %q", res)
	}
	shot(t, b, "diff")

	// The server's own errors still land at their line and field.
	run(t, b, "apply invalid", 10*time.Second, paste(strings.NewReplacer("name: app", "name: App_1", "name: cm", "name: cm2").Replace(good)), click(`#apply`))
	waitJS(t, b, "server error", `!!document.querySelector('[data-testid=error]')`, 10*time.Second)
	line := evalString(t, b, `document.querySelector('[data-testid=error]').dataset.line`)
	marks := evalString(t, b, `Array.from(document.querySelectorAll('[data-testid=gutter-err]')).map(e => e.dataset.line).join(',')`)
	if line != "7" || marks != "7" {
		t.Errorf("server error at line %s, gutter marks %q; want 7: %s", line, marks, evalString(t, b, `document.querySelector('#results').textContent`))
	}
	if sel := evalString(t, b, `(() => { const s = wk.editor.view.state.selection.main; return wk.editor.view.state.sliceDoc(s.from, s.to) })()`); sel != "name" {
		t.Errorf("selection after the error %q, want the field", sel)
	}
}
