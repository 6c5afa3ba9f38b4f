package apiserver

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/watchcache"
)

func TestWithSuggestion(t *testing.T) {
	pod := reflect.TypeOf(&corev1.Pod{})
	cases := map[string]string{
		`unknown field "apiVerison"`:                    `unknown field "apiVerison", did you mean "apiVersion"?`,
		`unknown field "metadata.lables"`:               `unknown field "metadata.lables", did you mean "labels"?`,
		`unknown field "spec.containers[0].imagee"`:     `unknown field "spec.containers[0].imagee", did you mean "image"?`,
		`unknown field "spec.containers[0].Ports"`:      `unknown field "spec.containers[0].Ports", did you mean "ports"?`,
		`unknown field "spec.zzzzzzzz"`:                 `unknown field "spec.zzzzzzzz"`,
		`unknown field "spec.nosuch.deeper"`:            `unknown field "spec.nosuch.deeper"`,
		`duplicate field "kind"`:                        `duplicate field "kind"`,
		`unknown field "spec.volumes[0].configMap.nam"`: `unknown field "spec.volumes[0].configMap.nam", did you mean "name"?`,
	}
	for in, want := range cases {
		if got := withSuggestion(pod, in); got != want {
			t.Errorf("withSuggestion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIPAllocator(t *testing.T) {
	a, err := newIPAllocator("10.0.0.0/29") // 6 usable: .1 to .6
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		ip, err := a.allocate("")
		if err != nil || seen[ip] {
			t.Fatalf("allocation %d: %q %v", i, ip, err)
		}
		seen[ip] = true
	}
	if seen["10.0.0.0"] || seen["10.0.0.7"] {
		t.Fatalf("network or broadcast address handed out: %v", seen)
	}
	if _, err := a.allocate(""); err == nil {
		t.Fatal("full range still allocated")
	}
	a.release("10.0.0.3")
	if ip, err := a.allocate(""); err != nil || ip != "10.0.0.3" {
		t.Fatalf("after release: %q %v", ip, err)
	}
	if _, err := a.allocate("10.0.0.9"); err == nil {
		t.Fatal("IP outside the range accepted")
	}
}

func TestPortAllocator(t *testing.T) {
	a, err := newPortAllocator("30000-30002")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := a.allocate(0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.allocate(0); err == nil {
		t.Fatal("full range still allocated")
	}
	a.release(30001)
	if p, err := a.allocate(0); err != nil || p != 30001 {
		t.Fatalf("after release: %d %v", p, err)
	}
	if _, err := newPortAllocator("30-20"); err == nil {
		t.Fatal("bad range accepted")
	}
}

func TestPodContainer(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "db"}}}}
	p.Name = "counter"
	if _, err := podContainer(p, ""); err == nil || err.Error() != "a container name must be specified for pod counter, choose one of: [app db]" {
		t.Fatalf("%v", err)
	}
	p.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "db"}
	if c, err := podContainer(p, ""); err != nil || c != "db" {
		t.Fatalf("default-container: %q %v", c, err)
	}
	if _, err := podContainer(p, "web"); err == nil {
		t.Fatal("unknown container accepted")
	}
}

func TestNamespaceCacheIgnoresRacedLookups(t *testing.T) {
	var c nsCache
	gen, ok := c.lookup("a")
	if ok {
		t.Fatal("empty cache knows a")
	}
	c.forget("a") // a namespace write happened while the lookup read the store
	c.remember("a", gen)
	if _, ok := c.lookup("a"); ok {
		t.Fatal("a lookup that raced with a write was remembered")
	}
	gen, _ = c.lookup("a")
	c.remember("a", gen)
	if _, ok := c.lookup("a"); !ok {
		t.Fatal("a clean lookup was not remembered")
	}
	c.forget("a")
	if _, ok := c.lookup("a"); ok {
		t.Fatal("forget did not forget")
	}
}

// TestEventCacheKeepsRecentEntries: every one of the last eventCacheSize entries
// offered is still there after any number of puts. (The cache used to start afresh when
// full, so a batch of watch events applied just after lost the objects their writes had
// offered, and the watch cache decoded them again.)
func TestEventCacheKeepsRecentEntries(t *testing.T) {
	var c eventCache
	for n := 1; n <= 3*eventCacheSize+7; n++ {
		c.put(eventKey{"k", int64(n)}, &watchcache.Object{Key: "k", Rev: int64(n)})
		for back := 0; back < eventCacheSize && back < n; back++ {
			if c.lookup("k", int64(n-back)) == nil {
				t.Fatalf("after %d puts, the entry put %d ago is gone", n, back)
			}
		}
	}
}
