package web

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// lessonLive answers the checks that look inside containers (logs, exec). Those are API
// calls, too slow for the dispatcher that re-checks lessons on every watched change, so a
// check reads the last answer and a stale one is asked again in the background; the
// lesson loop re-checks open lessons every second to pick the answers up.
type lessonLive struct {
	d  *Dashboard
	mu sync.Mutex
	m  map[string]*liveAnswer
}

type liveAnswer struct {
	out  string
	ok   bool
	at   time.Time
	busy bool
}

// liveMaxAge is how old an answer may be before it is asked again.
const liveMaxAge = time.Second

func (l *lessonLive) get(key string, ask func(ctx context.Context) (string, bool)) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*liveAnswer{}
	}
	a := l.m[key]
	if a == nil {
		a = &liveAnswer{}
		l.m[key] = a
	}
	if !a.busy && time.Since(a.at) > liveMaxAge {
		a.busy = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out, ok := ask(ctx)
			l.mu.Lock()
			a.out, a.ok, a.at, a.busy = out, ok, time.Now(), false
			l.mu.Unlock()
		}()
	}
	return a.out, a.ok
}

// logs is the last 200 lines of a container's output.
func (l *lessonLive) logs(ns, pod, container string) string {
	out, _ := l.get("logs/"+ns+"/"+pod+"/"+container, func(ctx context.Context) (string, bool) {
		tail := int64(200)
		b, err := l.d.client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &tail}).DoRaw(ctx)
		return string(b), err == nil
	})
	return out
}

func (l *lessonLive) exec(ns, pod, container string, cmd ...string) (string, bool) {
	return l.get("exec/"+ns+"/"+pod+"/"+container+"/"+strings.Join(cmd, " "), func(ctx context.Context) (string, bool) {
		var out bytes.Buffer
		err := l.d.execOnce(ctx, ns, pod, container, cmd, &out)
		return out.String(), err == nil
	})
}

// forget drops every answer, so a step done again is checked afresh (after a reset).
func (l *lessonLive) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, a := range l.m {
		if !a.busy {
			delete(l.m, k)
		}
	}
}

// lessonLoop re-checks the open lessons every second, for the answers lessonLive got
// meanwhile; refreshLessons sends a tab only what changed.
func (d *Dashboard) lessonLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.refreshLessons()
		}
	}
}
