package apiserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver"
	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/store"
)

type rawEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

type eventStream struct {
	t      *testing.T
	events chan rawEvent
	cancel context.CancelFunc
}

// openWatch starts a raw watch on path (query included) and streams its events.
func openWatch(t *testing.T, srv *apiservertest.Server, path string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("watch %s: %d", path, resp.StatusCode)
	}
	s := &eventStream{t: t, events: make(chan rawEvent, 1000), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev rawEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
				s.events <- ev
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

// next returns the next event, failing after a few seconds.
func (s *eventStream) next() (string, metav1.ObjectMeta, json.RawMessage) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("watch stream ended")
		}
		var obj struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = json.Unmarshal(ev.Object, &obj)
		return ev.Type, obj.Metadata, ev.Object
	case <-time.After(5 * time.Second):
		s.t.Fatal("no watch event within 5s")
	}
	return "", metav1.ObjectMeta{}, nil
}

// quiet requires that no event arrives for d.
func (s *eventStream) quiet(d time.Duration) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			s.t.Fatalf("unexpected event %s %s", ev.Type, ev.Object)
		}
	case <-time.After(d):
	}
}

func (s *eventStream) expect(typ, name string) metav1.ObjectMeta {
	s.t.Helper()
	gotType, m, raw := s.next()
	if gotType != typ || m.Name != name {
		s.t.Fatalf("got %s %s, want %s %s: %s", gotType, m.Name, typ, name, raw)
	}
	return m
}

func TestWatch(t *testing.T) {
	srv := apiservertest.Start(t,
		apiservertest.WithConfig(func(c *apiserver.Config) { c.BookmarkInterval = 200 * time.Millisecond }),
		apiservertest.WithStoreConfig(func(c *store.Config) { c.KeepRevisions = 5; c.CompactInterval = -1 }))
	ctx := context.Background()
	pods := srv.Clientset().CoreV1().Pods("default")
	mk := func(name string, labels map[string]string) *corev1.Pod {
		p, err := pods.Create(ctx, pod(name, labels), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	relabel := func(name, app string) {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Labels = map[string]string{"app": app}
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const base = "/api/v1/namespaces/default/pods?watch=true"

	t.Run("ResumeFromResourceVersion", func(t *testing.T) {
		a := mk("resume-a", nil)
		mk("resume-b", nil)
		mk("resume-c", nil)
		w := openWatch(t, srv, base+"&resourceVersion="+a.ResourceVersion)
		w.expect("ADDED", "resume-b")
		m := w.expect("ADDED", "resume-c")
		w.quiet(300 * time.Millisecond)
		// From c's revision on: nothing old is repeated, the next write arrives.
		w2 := openWatch(t, srv, base+"&resourceVersion="+m.ResourceVersion)
		mk("resume-d", nil)
		w2.expect("ADDED", "resume-d")
	})

	t.Run("LegacyWatchPath", func(t *testing.T) {
		w := openWatch(t, srv, "/api/v1/watch/namespaces/default/pods/resume-c?resourceVersion=0")
		w.expect("ADDED", "resume-c")
		w.quiet(300 * time.Millisecond)
	})

	t.Run("InitialEventsForResourceVersion0", func(t *testing.T) {
		w := openWatch(t, srv, base+"&resourceVersion=0&fieldSelector=metadata.name%3Dresume-b")
		w.expect("ADDED", "resume-b")
		w.quiet(300 * time.Millisecond)
	})

	t.Run("SelectorTransitions", func(t *testing.T) {
		rev := revision(t, srv)
		w := openWatch(t, srv, base+"&labelSelector=app%3Dweb&resourceVersion="+strconv.FormatInt(rev, 10))
		mk("sel", map[string]string{"app": "db"})
		relabel("sel", "web")
		w.expect("ADDED", "sel") // entered the selection
		relabel("sel", "web2")
		w.expect("DELETED", "sel") // left it
		if err := pods.Delete(ctx, "sel", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		mk("sel-web", map[string]string{"app": "web"})
		w.expect("ADDED", "sel-web") // the delete of an unselected pod was invisible
	})

	t.Run("FieldSelectorNodeName", func(t *testing.T) {
		rev := revision(t, srv)
		w := openWatch(t, srv, base+"&fieldSelector=spec.nodeName%3Dnode-1&resourceVersion="+strconv.FormatInt(rev, 10))
		mk("bind-me", nil)
		code, body := call(t, srv, "POST", "/api/v1/namespaces/default/pods/bind-me/binding", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"Binding","metadata":{"name":"bind-me"},"target":{"kind":"Node","name":"node-1"}}`))
		if code != 201 {
			t.Fatalf("binding: %d %s", code, body)
		}
		w.expect("ADDED", "bind-me")
	})

	t.Run("Bookmarks", func(t *testing.T) {
		rev := revision(t, srv)
		w := openWatch(t, srv, base+"&allowWatchBookmarks=true&labelSelector=app%3Dnone&resourceVersion="+strconv.FormatInt(rev, 10))
		p := mk("bm", map[string]string{"app": "other"})
		want, _ := strconv.ParseInt(p.ResourceVersion, 10, 64)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			typ, m, raw := w.next()
			if typ != "BOOKMARK" {
				t.Fatalf("got %s, want only bookmarks: %s", typ, raw)
			}
			if got, _ := strconv.ParseInt(m.ResourceVersion, 10, 64); got >= want {
				return
			}
		}
		t.Fatalf("no bookmark reached revision %d", want)
	})

	t.Run("TimeoutSeconds", func(t *testing.T) {
		w := openWatch(t, srv, base+"&timeoutSeconds=1&resourceVersion="+strconv.FormatInt(revision(t, srv), 10))
		select {
		case _, ok := <-w.events:
			if ok {
				t.Fatal("unexpected event")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watch with timeoutSeconds=1 still open after 5s")
		}
	})

	t.Run("ErrTooLargeResourceVersion", func(t *testing.T) {
		w := openWatch(t, srv, base+"&resourceVersion=999999")
		typ, _, raw := w.next()
		if !contains(string(raw), "Too large resource version: 999999") || typ != "ERROR" {
			t.Fatalf("got %s %s", typ, raw)
		}
		var st metav1.Status
		_ = json.Unmarshal(raw, &st)
		if !apierrors.HasStatusCause(&apierrors.StatusError{ErrStatus: st}, metav1.CauseTypeResourceVersionTooLarge) {
			t.Fatalf("client-go does not see a too-large RV: %+v", st)
		}
		code, body := call(t, srv, "GET", "/api/v1/namespaces/default/pods?resourceVersion=999999", "", nil)
		if code != 504 || !contains(string(body), "Too large resource version") {
			t.Fatalf("list: %d %s", code, body)
		}
	})

	t.Run("ErrGoneExpired", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			mk("gone-"+strconv.Itoa(i), nil)
		}
		if err := srv.Store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		compacted := srv.Store.CompactedRevision()
		if compacted <= 2 {
			t.Fatalf("compaction kept everything (compacted=%d)", compacted)
		}
		w := openWatch(t, srv, base+"&resourceVersion=2")
		typ, _, raw := w.next()
		var st metav1.Status
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		want := "too old resource version: 2 (" + strconv.FormatInt(compacted, 10) + ")"
		if typ != "ERROR" || st.Code != 410 || st.Reason != metav1.StatusReasonExpired || st.Message != want {
			t.Fatalf("got %s %+v, want ERROR 410 Expired %q", typ, st, want)
		}
		code, body := call(t, srv, "GET", "/api/v1/namespaces/default/pods?resourceVersion=2&resourceVersionMatch=Exact", "", nil)
		if st := status(t, body); code != 410 || st.Reason != metav1.StatusReasonExpired {
			t.Fatalf("list at compacted rv: %d %s", code, body)
		}
	})
}
