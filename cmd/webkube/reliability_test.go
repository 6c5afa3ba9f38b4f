package main

// The reliability suite (issue 9): faults injected into the real binary with its real
// containerd, each tried several times, and a table of what survived. `make test` runs a
// short pass; `make reliability` (WEBKUBE_RELIABILITY=long) the long one. The moments of
// the kills come from a seed, printed so a run can be replayed (WEBKUBE_RELIABILITY_SEED).

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"webkube/internal/eventually"
)

// relPlan says how often each fault is tried.
type relPlan struct {
	scaleTo, scaleKills           int
	scaleWindow                   time.Duration // kills land uniformly in [0, window) after the scale
	rolloutReplicas, rolloutKills int
	rolloutWindow                 time.Duration
	writes, writeKills            int
	faults                        int // kills of containerd, of a shim and of a container process, each
	svcRollouts                   int
	svcRestart                    bool // one kill -9 + restart of webkube among the rollouts
}

var (
	// The short pass keeps every kind of fault whose fix has landed, once, small.
	shortPlan = relPlan{scaleTo: 10, scaleKills: 1, scaleWindow: 4 * time.Second,
		rolloutReplicas: 4, rolloutKills: 1, rolloutWindow: 4 * time.Second,
		writes: 200, writeKills: 1, faults: 1, svcRollouts: 1}
	// The long pass: 8+7+6 = 21 kills of webkube, plus the one under Service load.
	longPlan = relPlan{scaleTo: 50, scaleKills: 8, scaleWindow: 20 * time.Second,
		rolloutReplicas: 10, rolloutKills: 7, rolloutWindow: 20 * time.Second,
		writes: 2000, writeKills: 6, faults: 3, svcRollouts: 5, svcRestart: true}
)

// converge is how long a restarted webkube has to reach the desired state, leaking nothing.
const converge = 30 * time.Second

// outcome is one row of the table.
type outcome struct {
	scenario              string
	tried, survived, lost int
	details               []string
}

func (o *outcome) ok() { o.tried++; o.survived++ }

func (o *outcome) lose(format string, args ...any) {
	o.tried++
	o.lost++
	o.details = append(o.details, fmt.Sprintf(format, args...))
}

// lose records a lost trial; the orphans it left are its, not the next trial's.
func (s *relSuite) lose(o *outcome, format string, args ...any) {
	o.lose(format, args...)
	s.absorb()
}

// relSuite is one cluster the scenarios run on one after another.
type relSuite struct {
	c    *cluster
	cs   kubernetes.Interface
	plan relPlan
	long bool
	rng  *rand.Rand
	rows []*outcome
	// known holds orphans a lost trial already counted (see leaks).
	known map[string]bool
}

// TestReliability injects faults into webkube and counts what survived. Each scenario
// fails the test when it lost anything; the table is printed either way.
func TestReliability(t *testing.T) {
	s := &relSuite{plan: shortPlan, known: map[string]bool{}}
	if os.Getenv("WEBKUBE_RELIABILITY") == "long" {
		s.plan, s.long = longPlan, true
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("WEBKUBE_RELIABILITY_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("WEBKUBE_RELIABILITY_SEED=%q: %v", v, err)
		}
	}
	s.rng = rand.New(rand.NewSource(seed))
	t.Logf("reliability seed %d (replay with WEBKUBE_RELIABILITY_SEED=%d), long=%v", seed, seed, s.long)
	s.c = startCluster(t, "10.245.0.0/16", "wkz")
	s.cs = relClient(t, s.c)
	defer func() { s.printTable(t, seed) }()

	s.run(t, "kill -9 webkube during 0→N scale-up", "", s.scaleUpKills)
	s.run(t, "kill -9 webkube during a rollout", "", s.rolloutKills)
	s.run(t, "kill -9 webkube during a write stream", "", s.writeKills)
	s.run(t, "kill -9 a container process", "6", s.containerKills)
	s.run(t, "kill -9 a shim", "", s.shimKills)
	s.run(t, "kill -9 containerd", "7", s.containerdKills)
	s.run(t, "Service requests across rollouts", "", s.serviceUnderLoad)
	s.run(t, "bad input via the API", "", func(t *testing.T, o *outcome) { s.badInput(t, o, badRequests()) })
	s.run(t, "bad input of issue 9 item 10", "", func(t *testing.T, o *outcome) { s.badInput(t, o, item10Requests()) })
}

// pending are the items of issue 9 whose fixes have not landed yet. The short pass (part
// of `make test`, which must pass) leaves out the scenarios that need one; the long pass
// runs everything and shows what still fails. Delete an item here when its fix lands.
var pending = map[string]string{}

// run runs one scenario as a subtest; it fails when the scenario's rows (it may add
// more with s.row) lost anything. needs names the item of issue 9 it relies on.
func (s *relSuite) run(t *testing.T, name, needs string, f func(t *testing.T, o *outcome)) {
	first := len(s.rows)
	o := s.row(name)
	if why, ok := pending[needs]; ok && !s.long {
		o.details = append(o.details, fmt.Sprintf("long pass only until item %s (%s) lands", needs, why))
		return
	}
	t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
		s.c.t = t
		f(t, o)
		for _, r := range s.rows[first:] {
			if r.lost > 0 {
				t.Errorf("%s: lost %d of %d: %s", r.scenario, r.lost, r.tried, strings.Join(r.details, "; "))
			}
		}
	})
	s.c.t = t
}

func (s *relSuite) row(name string) *outcome {
	o := &outcome{scenario: name}
	s.rows = append(s.rows, o)
	return o
}

func (s *relSuite) printTable(t *testing.T, seed int64) {
	var b strings.Builder
	fmt.Fprintf(&b, "reliability (%s pass, seed %d)\n", map[bool]string{true: "long", false: "short"}[s.long], seed)
	fmt.Fprintf(&b, "%-44s %7s %9s %6s  %s\n", "scenario", "tried", "survived", "lost", "detail")
	for _, r := range s.rows {
		detail := strings.Join(r.details, "; ")
		fmt.Fprintf(&b, "%-44s %7d %9d %6d  %s\n", r.scenario, r.tried, r.survived, r.lost, detail)
	}
	if testing.Verbose() {
		fmt.Print(b.String())
	} else {
		t.Log("\n" + b.String())
	}
}

func relClient(t testing.TB, c *cluster) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	// A request to a webkube that was just killed must fail, not hang.
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// restart kills webkube with SIGKILL and starts it again on the same data dir.
func (s *relSuite) restart() time.Duration {
	s.c.kill9()
	start := time.Now()
	s.c.start()
	return time.Since(start)
}

// settled polls until check passes (converged, nothing leaked) within timeout.
func settled(timeout time.Duration, check func() string) (bool, string) {
	return eventually.Within(timeout, func() (bool, string) {
		d := check()
		return d == "", d
	})
}
