package web

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// startTrace records a Chromium performance trace of the tab into WEBKUBE_TRACE (a JSON
// file of trace events) when that is set; the returned func stops and writes it.
// WEBKUBE_TRACE_CATS (comma-separated) replaces the categories: the default's JS stacks and
// blink internals make tasks take about twice as long as they do untraced.
func startTrace(b testing.TB, c context.Context) func() {
	path := os.Getenv("WEBKUBE_TRACE")
	if path == "" {
		return func() {}
	}
	var mu sync.Mutex
	var evs []json.RawMessage
	done := make(chan struct{})
	if err := chromedp.Listen(c, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			for _, v := range e.Value {
				raw, _ := json.Marshal(v)
				evs = append(evs, raw)
			}
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	cats := []string{"devtools.timeline", "disabled-by-default-devtools.timeline", "disabled-by-default-devtools.timeline.stack", "v8.execute", "blink"}
	if v := os.Getenv("WEBKUBE_TRACE_CATS"); v != "" {
		cats = strings.Split(v, ",")
	}
	run(b, c, "trace start", 10e9, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReportEvents,
			TraceConfig: &tracing.TraceConfig{IncludedCategories: cats}})
		return err
	}))
	return func() {
		run(b, c, "trace end", 10e9, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, tracing.End, cdp.Empty{})
			return err
		}))
		<-done
		mu.Lock()
		defer mu.Unlock()
		out, _ := json.Marshal(evs)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("trace: %d events in %s", len(evs), path)
	}
}
