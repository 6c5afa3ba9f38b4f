package main

// The reliability suite's kills of webkube itself: during a scale-up, during a rollout and
// during a stream of acknowledged writes.

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/internal/eventually"
)

// relDeployment is a Deployment of busybox pods that stop at once on SIGTERM.
func relDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: busybox
          command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`, name, replicas)
}

// moment is a random instant in [0, window): when the next fault lands. Sleeping until it
// is the point (the fault must hit whatever is happening then), not a synchronisation.
func (s *relSuite) moment(window time.Duration) time.Duration {
	return time.Duration(s.rng.Int63n(int64(window)))
}

// running counts the Running pods of app name, for the record of what a kill interrupted.
func (s *relSuite) running(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pods, err := s.cs.CoreV1().Pods(relNS).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return -1
	}
	n := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// scaleUpKills: scale 0→N, kill -9 webkube at a random moment, restart; N pods must run
// within 30 s with nothing leaked, and scaling back to 0 must leave the node empty.
func (s *relSuite) scaleUpKills(t *testing.T, o *outcome) {
	const name = "rel-scale"
	n := s.plan.scaleTo
	o.scenario = fmt.Sprintf("kill -9 webkube during 0→%d scale-up", n)
	s.c.apply(relDeployment(name, 0))
	defer s.c.kubectl("delete", "deployment", name, "--wait=true", "--timeout=60s")
	for i := 0; i < s.plan.scaleKills; i++ {
		s.c.mustKubectl("scale", "deployment", name, fmt.Sprintf("--replicas=%d", n))
		at := s.moment(s.plan.scaleWindow)
		time.Sleep(at)
		up := s.running(name)
		took := s.restart()
		ok, last := settled(converge, s.convergedClean(name, n))
		// Each trial starts from 0: scaling down must leave the node empty too.
		s.c.mustKubectl("scale", "deployment", name, "--replicas=0")
		down, downLast := settled(90*time.Second, s.convergedClean(name, 0))
		switch {
		case !ok:
			s.lose(o, "kill at +%s (%d/%d running), restart %s: %s", at.Round(time.Millisecond), up, n, took.Round(time.Second), last)
		case !down:
			s.lose(o, "kill at +%s, scaled back to 0: %s", at.Round(time.Millisecond), downLast)
		default:
			o.ok()
		}
	}
}

// rolloutKills: a rollout of an R-replica Deployment, kill -9 webkube at a random moment,
// restart; the rollout must complete within 30 s with nothing leaked.
func (s *relSuite) rolloutKills(t *testing.T, o *outcome) {
	const name = "rel-roll"
	n := s.plan.rolloutReplicas
	o.scenario = fmt.Sprintf("kill -9 webkube during %d-replica rollout", n)
	s.c.apply(relDeployment(name, n))
	defer s.c.kubectl("delete", "deployment", name, "--wait=true", "--timeout=60s")
	if ok, last := settled(120*time.Second, s.convergedClean(name, n)); !ok {
		t.Fatalf("%s never ran its %d pods: %s", name, n, last)
	}
	for i := 0; i < s.plan.rolloutKills; i++ {
		s.c.mustKubectl("set", "env", "deployment/"+name, fmt.Sprintf("ROLLOUT=%d", i+1))
		at := s.moment(s.plan.rolloutWindow)
		time.Sleep(at)
		took := s.restart()
		ok, last := settled(converge, s.convergedClean(name, n))
		if ok {
			o.ok()
			continue
		}
		s.lose(o, "kill at +%s, restart %s: %s", at.Round(time.Millisecond), took.Round(time.Second), last)
		// Give it time to get there anyway, so the next kill starts from a finished rollout.
		if ok, last := settled(120*time.Second, s.convergedClean(name, n)); !ok {
			t.Fatalf("rollout %d never completed: %s", i+1, last)
		}
	}
}

// ackedWrite is the last acknowledged value of one ConfigMap; maybe holds values of
// later writes that got no answer (webkube died meanwhile), which may or may not be in.
type ackedWrite struct {
	value string
	rv    int64
	maybe []string
}

// writeStream writes ConfigMaps one after another (creates, and every fifth an update of
// an earlier one) and records every acknowledged write.
type writeStream struct {
	s       *relSuite
	rng     *rand.Rand // the writer's own: the test's is not safe for two goroutines
	mu      sync.Mutex
	acked   map[string]*ackedWrite
	names   []string
	n       atomic.Int64 // acknowledged writes
	lastRV  int64
	reorder []string // acknowledged revisions that did not increase
}

func (w *writeStream) run(ctx context.Context, total int) {
	cms := w.s.cs.CoreV1().ConfigMaps(relNS)
	for i := 0; int(w.n.Load()) < total && ctx.Err() == nil; i++ {
		value := strconv.Itoa(i)
		w.mu.Lock()
		name := fmt.Sprintf("rel-w-%d", i)
		update := i%5 == 4 && len(w.names) > 0
		if update {
			name = w.names[w.rng.Intn(len(w.names))]
		}
		w.mu.Unlock()
		var rv string
		var err error
		if update {
			var cm *corev1.ConfigMap
			cm, err = cms.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"v":"`+value+`"}}`), metav1.PatchOptions{})
			if err == nil {
				rv = cm.ResourceVersion
			}
		} else {
			var cm *corev1.ConfigMap
			cm, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
				Labels: map[string]string{"reliability": "write"}}, Data: map[string]string{"v": value}}, metav1.CreateOptions{})
			if err == nil {
				rv = cm.ResourceVersion
			}
		}
		w.record(name, value, rv, update, err)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // webkube is down: retry soon, not in a hot loop
		}
	}
}

func (w *writeStream) record(name, value, rv string, update bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if a := w.acked[name]; a != nil && update {
			a.maybe = append(a.maybe, value)
		}
		return
	}
	r, perr := strconv.ParseInt(rv, 10, 64)
	if perr != nil || r <= w.lastRV {
		w.reorder = append(w.reorder, fmt.Sprintf("%s got revision %q after %d", name, rv, w.lastRV))
	}
	w.lastRV = max(w.lastRV, r)
	if w.acked[name] == nil {
		w.names = append(w.names, name)
	}
	w.acked[name] = &ackedWrite{value: value, rv: r}
	w.n.Add(1)
}

// missing lists acknowledged writes the API does not return as written.
func (w *writeStream) missing() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := w.s.cs.CoreV1().ConfigMaps(relNS).List(ctx, metav1.ListOptions{LabelSelector: "reliability=write"})
	if err != nil {
		return []string{fmt.Sprintf("list: %v", err)}
	}
	have := map[string]corev1.ConfigMap{}
	for _, cm := range list.Items {
		have[cm.Name] = cm
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, a := range w.acked {
		cm, ok := have[name]
		if !ok {
			out = append(out, name+" gone")
			continue
		}
		got := cm.Data["v"]
		rv, _ := strconv.ParseInt(cm.ResourceVersion, 10, 64)
		if got != a.value && !contains(a.maybe, got) {
			out = append(out, fmt.Sprintf("%s=%q, acknowledged %q", name, got, a.value))
		} else if rv < a.rv {
			out = append(out, fmt.Sprintf("%s at revision %d, acknowledged at %d", name, rv, a.rv))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeKills: kill -9 webkube at random points of a stream of acknowledged writes; after
// each restart every write acknowledged so far must be there, and revisions only grow.
func (s *relSuite) writeKills(t *testing.T, o *outcome) {
	total := s.plan.writes
	o.scenario = fmt.Sprintf("kill -9 webkube during %d writes", total)
	kept := s.row(fmt.Sprintf("  acknowledged writes kept (of %d)", total))
	w := &writeStream{s: s, rng: rand.New(rand.NewSource(s.rng.Int63())), acked: map[string]*ackedWrite{}}
	defer s.c.kubectl("delete", "configmaps", "-l", "reliability=write")
	// Kill points: distinct counts of acknowledged writes in the first 90% of the stream.
	at := map[int]bool{}
	for len(at) < s.plan.writeKills {
		at[1+s.rng.Intn(total*9/10)] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx, total) }()
	for k := 1; k <= total*9/10; k++ {
		if !at[k] {
			continue
		}
		if ok, _ := eventually.Within(2*time.Minute, func() (bool, string) { return int(w.n.Load()) >= k, "" }); !ok {
			s.lose(o, "the stream stalled at %d acknowledged writes", w.n.Load())
			break
		}
		acked := w.n.Load()
		took := s.restart()
		if ok, last := settled(converge, func() string { return strings.Join(w.missing(), ", ") }); ok {
			o.ok()
		} else {
			s.lose(o, "kill after %d writes, restart %s: %s", acked, took.Round(time.Second), last)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	gone := w.missing()
	w.mu.Lock()
	defer w.mu.Unlock()
	kept.tried, kept.lost = int(w.n.Load()), len(gone)+len(w.reorder)
	kept.survived = kept.tried - kept.lost
	if len(gone) > 0 {
		kept.details = append(kept.details, fmt.Sprintf("missing or wrong: %s", firstFew(gone, 5)))
	}
	if len(w.reorder) > 0 {
		kept.details = append(kept.details, fmt.Sprintf("revisions not increasing: %s", firstFew(w.reorder, 5)))
	}
	kept.details = append(kept.details, fmt.Sprintf("%d writes acknowledged, last revision %d", w.n.Load(), w.lastRV))
	if int(w.n.Load()) < total {
		kept.lost++
		kept.details = append(kept.details, fmt.Sprintf("the stream ended after %d of %d writes", w.n.Load(), total))
	}
}

func firstFew(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
	}
	return strings.Join(s, ", ")
}
