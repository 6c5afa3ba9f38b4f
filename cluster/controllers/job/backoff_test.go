package job

import (
	"testing"
	"time"
)

// A sync that counts a failed pod and then fails (a conflict) is retried and counts the
// same pod again: the delay must stay that of one failure (it doubled, and a learner's
// Job waited 20 s instead of 10 s for its replacement).
func TestBackoffCountsEachPodOnce(t *testing.T) {
	b := newBackoffStore()
	at := time.Unix(1000, 0)
	b.failed("ns/j", "pod-a", at)
	b.failed("ns/j", "pod-a", at)
	if got := b.remaining("ns/j", at); got != DefaultBackoff {
		t.Fatalf("one failed pod counted twice: back-off %v, want %v", got, DefaultBackoff)
	}
	b.failed("ns/j", "pod-b", at.Add(time.Second))
	if got := b.remaining("ns/j", at.Add(time.Second)); got != 2*DefaultBackoff {
		t.Fatalf("two failed pods: back-off %v, want %v", got, 2*DefaultBackoff)
	}
	b.succeeded("ns/j")
	if got := b.remaining("ns/j", at); got != 0 {
		t.Fatalf("after a success: back-off %v, want none", got)
	}
}

// Our own status write is newer than a cache that has not seen it.
func TestRevisionsNewer(t *testing.T) {
	var r revisions
	r.set("ns/j", "40")
	if !r.newer("ns/j", "32") || r.newer("ns/j", "40") || r.newer("ns/j", "41") || r.newer("ns/other", "1") {
		t.Fatal("newer compares the last write with the cache's resourceVersion")
	}
	r.forget("ns/j")
	if r.newer("ns/j", "32") {
		t.Fatal("forgotten")
	}
}
