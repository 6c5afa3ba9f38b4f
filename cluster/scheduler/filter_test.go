package scheduler

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func node(name, cpu, mem string, labels map[string]string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	n.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	return n
}

func pod(name, cpu string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return p
}

func TestFilterReasons(t *testing.T) {
	cordoned := node("c", "4", "8Gi", nil)
	cordoned.Spec.Unschedulable = true
	notReady := node("nr", "4", "8Gi", nil)
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	tainted := node("t", "4", "8Gi", nil)
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	soft := node("s", "4", "8Gi", nil)
	soft.Spec.Taints = []corev1.Taint{{Key: "meh", Effect: corev1.TaintEffectPreferNoSchedule}}
	full := node("f", "1", "1Gi", nil)

	tolerant := pod("tol", "")
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	affine := pod("aff", "")
	affine.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}},
		}}}}
	memHog := pod("mem", "2")
	memHog.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("2Gi")

	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		node       *corev1.Node
		used       usage
		want       string
		resolvable bool
	}{
		{"fits", pod("p", "1"), node("n", "4", "8Gi", nil), usage{}, "", true},
		{"cordoned", pod("p", ""), cordoned, usage{}, "node(s) were unschedulable", false},
		{"not ready", pod("p", ""), notReady, usage{}, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }", false},
		{"taint", pod("p", ""), tainted, usage{}, "node(s) had untolerated taint {dedicated: gpu}", false},
		{"tolerated", tolerant, tainted, usage{}, "", true},
		{"prefer no schedule is no filter", pod("p", ""), soft, usage{}, "", true},
		{"affinity miss", affine, node("n", "4", "8Gi", map[string]string{"zone": "c"}), usage{}, reasonAffinity, false},
		{"affinity hit", affine, node("n", "4", "8Gi", map[string]string{"zone": "b"}), usage{}, "", true},
		{"cpu and memory", memHog, full, usage{}, "Insufficient cpu,Insufficient memory", true},
		{"used up", pod("p", "1"), node("n", "4", "8Gi", nil), usage{milliCPU: 3500}, "Insufficient cpu", true},
		{"pods", pod("p", ""), node("n", "4", "8Gi", nil), usage{pods: 110}, "Too many pods", true},
		{"unreported resources are not limits", pod("p", "1"), &corev1.Node{Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}, usage{pods: 500}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reasons, res := filter(tc.pod, tc.node, tc.used)
			if got := strings.Join(reasons, ","); got != tc.want {
				t.Errorf("reasons %q, want %q", got, tc.want)
			}
			if len(reasons) > 0 && res != tc.resolvable {
				t.Errorf("resolvable %v, want %v", res, tc.resolvable)
			}
		})
	}
}

func TestFailureMessageMatchesKubeScheduler(t *testing.T) {
	results := []NodeResult{
		{Node: "a", Reasons: []string{"Insufficient cpu"}},
		{Node: "b", Reasons: []string{reasonAffinity}},
		{Node: "c", Reasons: []string{reasonAffinity}},
	}
	got := failureMessage(results, map[string]bool{"a": true})
	want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. " +
		"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := failureMessage(nil, nil); got != "no nodes available to schedule pods" {
		t.Errorf("no nodes: %q", got)
	}
}

func TestDecideScoresLeastAllocatedAndSpread(t *testing.T) {
	s := testScheduler()
	busy := node("busy", "4", "8Gi", nil)
	idle := node("idle", "4", "8Gi", nil)
	s.cache.update(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "x"}, Spec: corev1.PodSpec{NodeName: "busy",
		Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}}})
	d := s.decide(pod("p", "500m"), []*corev1.Node{busy, idle})
	if d.Chosen != "idle" || d.Message != "Successfully assigned default/p to idle" {
		t.Fatalf("decision %+v", d)
	}
	if d.Nodes[0].Score >= d.Nodes[1].Score {
		t.Errorf("busy scored %d >= idle %d", d.Nodes[0].Score, d.Nodes[1].Score)
	}

	// Two pods of one owner already on "idle": spreading now prefers "busy2".
	s = testScheduler()
	t1 := true
	owned := func(uid, nodeName string) *corev1.Pod {
		p := pod(uid, "")
		p.UID = types.UID(uid)
		p.Spec.NodeName = nodeName
		p.OwnerReferences = []metav1.OwnerReference{{UID: "rs-1", Controller: &t1}}
		return p
	}
	s.cache.update(owned("o1", "idle"))
	s.cache.update(owned("o2", "idle"))
	d = s.decide(owned("new", ""), []*corev1.Node{node("busy2", "4", "8Gi", nil), idle})
	if d.Chosen != "busy2" {
		t.Errorf("spread: chose %s, scores %+v", d.Chosen, d.Nodes)
	}
}

func testScheduler() *Scheduler {
	return &Scheduler{cfg: Config{Clock: clocktesting.NewFakeClock(time.Unix(0, 0))}, cache: newCache(), rand: rand.New(rand.NewPCG(1, 1))}
}

func TestDecisionRingIsBounded(t *testing.T) {
	r := newRing(3)
	for i, n := range []string{"a", "b", "c", "d", "b"} {
		r.add(Decision{Namespace: "ns", Name: n, Chosen: string(rune('0' + i))})
	}
	all := r.all()
	if len(all) != 3 || all[0].Name != "c" || all[2].Name != "b" {
		t.Fatalf("ring %+v", all)
	}
	if d, ok := r.latest("ns", "b"); !ok || d.Chosen != "4" {
		t.Errorf("latest b = %+v", d)
	}
	if _, ok := r.latest("ns", "a"); ok {
		t.Error("a should have been overwritten")
	}
}

// A stale informer update from before the binding must not drop the assumption.
func TestCacheKeepsAssumptionOverStaleUpdate(t *testing.T) {
	c := newCache()
	p := pod("p", "1")
	c.assume(p, "n1")
	c.update(p) // unbound copy arriving late
	if !c.isAssumed(p.UID) {
		t.Fatal("assumption lost")
	}
	if u := c.snapshot([]string{"n1"})["n1"]; u.milliCPU != 1000 || u.pods != 1 {
		t.Errorf("usage %+v", u)
	}
	bound := p.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.update(bound)
	if c.isAssumed(p.UID) {
		t.Error("still assumed after the bound pod was seen")
	}
	if u := c.snapshot([]string{"n1"})["n1"]; u.milliCPU != 1000 || u.pods != 1 {
		t.Errorf("usage counted twice: %+v", u)
	}
}
