package endpoints

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func epRV(rv string) *corev1.Endpoints {
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", ResourceVersion: rv}}
}

func view(w *written[*corev1.Endpoints], cached *corev1.Endpoints) string {
	m := map[string]*corev1.Endpoints{}
	if cached != nil {
		m["echo"] = cached
	}
	if e, ok := w.fresh("default/echo", m)["echo"]; ok {
		return e.ResourceVersion
	}
	return "absent"
}

func TestWrittenUsesOwnWriteWhileCacheLags(t *testing.T) {
	var w written[*corev1.Endpoints]
	const key = "default/echo"
	w.record(key, "echo", "", epRV("5"), false) // created at 5
	if got := view(&w, nil); got != "5" {
		t.Fatalf("cache without our create: %s, want 5", got)
	}
	w.record(key, "echo", "5", epRV("7"), false) // updated on top of our own write
	w.record(key, "echo", "7", epRV("9"), false)
	for _, cached := range []*corev1.Endpoints{nil, epRV("5"), epRV("7")} {
		if got := view(&w, cached); got != "9" {
			t.Errorf("cache at %v: %s, want our 9", cached, got)
		}
	}
	if got := view(&w, epRV("9")); got != "9" {
		t.Errorf("cache caught up: %s", got)
	}
	// Caught up: the entry is gone, the cache wins, even if it moves on (someone else).
	if got := view(&w, epRV("12")); got != "12" {
		t.Errorf("someone else's write: %s, want 12", got)
	}
	w.record(key, "echo", "12", nil, true) // deleted
	if got := view(&w, epRV("12")); got != "absent" {
		t.Errorf("deleted, cache lagging: %s, want absent", got)
	}
	if got := view(&w, epRV("13")); got != "13" {
		t.Errorf("recreated by someone else: %s, want 13", got)
	}
	// A cached object without resourceVersion (fake clients) is taken as it is.
	w.record(key, "echo", "", epRV("20"), false)
	if got := view(&w, epRV("")); got != "" {
		t.Errorf("cache without resourceVersion: %q, want the cache's", got)
	}
	w.record(key, "echo", "", epRV("21"), false)
	w.forget(key)
	if got := view(&w, nil); got != "absent" {
		t.Errorf("after forget: %s", got)
	}
}
