package web

import (
	"testing"
	"time"
)

// A tab that stops reading is dropped; the others and the publisher never wait for it.
func TestHubDropsSlowClient(t *testing.T) {
	h := newHub()
	slow := newClient(topicOverview)
	fast := newClient(topicOverview, topicSteps)
	other := newClient(topicSteps)
	h.add(slow)
	h.add(fast)
	h.add(other)
	start := time.Now()
	for i := 0; i < clientBuffer+10; i++ {
		h.publish(topicOverview, []byte("x"))
		<-fast.send // a tab that keeps up
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("publishing took %v: blocked on the slow client", d)
	}
	select {
	case <-slow.gone:
	default:
		t.Error("slow client not dropped")
	}
	select {
	case <-fast.gone:
		t.Error("fast client dropped")
	default:
	}
	if len(other.send) != 0 {
		t.Errorf("client not subscribed to overview got %d messages", len(other.send))
	}
	if got := h.topicsWith("st"); len(got) != 1 || got[0] != topicSteps {
		t.Errorf("topicsWith = %v", got)
	}
	h.remove(slow)
	if h.count() != 2 {
		t.Errorf("count %d after remove", h.count())
	}
}
