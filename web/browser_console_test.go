package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// consoleErrors records what a page reports as an error: uncaught exceptions,
// console.error, and the browser's own log (failed loads such as a missing favicon).
type consoleErrors struct {
	mu   sync.Mutex
	list []string
}

func (c *consoleErrors) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Listen(ctx, func(ev any) {
		var s string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			s = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				s += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				s = "console.error: " + strings.Join(parts, " ")
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				s = "log: " + e.Entry.Text + " " + e.Entry.URL
			}
		}
		if s != "" {
			c.mu.Lock()
			c.list = append(c.list, s)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "enable log", 5*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	}))
}

func (c *consoleErrors) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.list
	c.list = nil
	return l
}

// No page of the dashboard reports an error in the browser's console, the editor and a
// pod page (terminal bundle) included.
func TestBrowserNoConsoleErrors(t *testing.T) {
	e := startEnv(t, "node-1")
	ctx := context.Background()
	if _, err := e.c.Client.AppsV1().ReplicaSets("default").Create(ctx, echoRS(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	var errs consoleErrors
	errs.listen(t, b)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "pod running", `document.querySelectorAll('#tbody-pods tr[data-status=Running]').length === 1`, 20*time.Second)
	pod := evalString(t, b, `document.querySelector('#tbody-pods tr[data-status=Running]').dataset.name`)
	pages := []string{"/", "/editor", "/steps", "/o/pod/default/" + pod, "/o/replicaset/default/echo-rs", "/o/node/_/node-1", "/o/service/default/kubernetes"}
	for _, p := range pages {
		run(t, b, "open "+p, 20*time.Second, chromedp.Navigate(e.url+p))
		waitJS(t, b, "live "+strings.ReplaceAll(p, "/", "_"), `!!(window.wk && window.wk.ready)`, 10*time.Second)
		if p == "/editor" {
			run(t, b, "use the editor", 10*time.Second, paste(podHead+"  containers:\n    - name: a\n      image: busybox\n"), click(`#dryrun`))
			waitJS(t, b, "dry run", `!!document.querySelector('[data-testid=result]')`, 10*time.Second)
		}
		time.Sleep(300 * time.Millisecond) // late errors (favicon, fonts) arrive after load
		if l := errs.take(); len(l) > 0 {
			t.Errorf("%s: %d console errors:\n%s", p, len(l), strings.Join(l, "\n"))
			shot(t, b, "console-"+fmt.Sprint(len(l)))
		}
	}
}
