package daemonset

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func readyNode(name string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"disk": "ssd"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if mutate != nil {
		mutate(n)
	}
	return n
}

// Where a daemon runs and stays, as kube's NodeShouldRunDaemonPod decides it.
func TestPlacement(t *testing.T) {
	taint := func(effect corev1.TaintEffect) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: effect}} }
	}
	for _, tc := range []struct {
		name      string
		node      *corev1.Node
		spec      func(*corev1.PodSpec)
		run, stay bool
		why       string
	}{
		{name: "plain node", node: readyNode("n", nil), run: true, stay: true},
		{name: "cordoned: daemons tolerate it", node: readyNode("n", func(n *corev1.Node) { n.Spec.Unschedulable = true }), run: true, stay: true},
		{name: "not ready: no new pod, the old one stays", node: readyNode("n", func(n *corev1.Node) { n.Status.Conditions = nil }),
			run: false, stay: true, why: "node.kubernetes.io/not-ready:NoSchedule"},
		{name: "NoSchedule taint: the running pod stays", node: readyNode("n", taint(corev1.TaintEffectNoSchedule)), run: false, stay: true, why: "dedicated=db:NoSchedule"},
		{name: "NoExecute taint evicts", node: readyNode("n", taint(corev1.TaintEffectNoExecute)), run: false, stay: false},
		{name: "tolerated taint", node: readyNode("n", taint(corev1.TaintEffectNoExecute)), run: true, stay: true,
			spec: func(s *corev1.PodSpec) {
				s.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			}},
		{name: "PreferNoSchedule is no bar", node: readyNode("n", taint(corev1.TaintEffectPreferNoSchedule)), run: true, stay: true},
		{name: "nodeSelector matches", node: readyNode("n", nil), run: true, stay: true,
			spec: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "ssd"} }},
		{name: "nodeSelector does not match", node: readyNode("n", nil), why: "nodeSelector",
			spec: func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disk": "hdd"} }},
		{name: "node affinity does not match", node: readyNode("n", nil), why: "node affinity",
			spec: func(s *corev1.PodSpec) {
				s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key: "disk", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"ssd"}}}}}}}}
			}},
		{name: "template names another node", node: readyNode("n", nil), why: "names node m",
			spec: func(s *corev1.PodSpec) { s.NodeName = "m" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := &appsv1.DaemonSet{}
			if tc.spec != nil {
				tc.spec(&ds.Spec.Template.Spec)
			}
			run, stay, why := placement(ds, tc.node)
			if run != tc.run || stay != tc.stay || !strings.Contains(why.en, tc.why) || (tc.why != "" && why.key.Key == "") {
				t.Fatalf("run %v stay %v why %q; want %v %v %q", run, stay, why, tc.run, tc.stay, tc.why)
			}
		})
	}
}

// A daemon pod is pinned to its node by node affinity (replacing the template's), keeps
// the template's tolerations and gains the daemon ones, and carries the revision hash.
func TestNewPodPinnedToNode(t *testing.T) {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "u"}}
	ds.Spec.Template.Labels = map[string]string{"app": "agent"}
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	p := newPod(ds, "abc", "node-2")
	if nodeOf(p) != "node-2" || p.Labels["controller-revision-hash"] != "abc" || p.Labels["app"] != "agent" || p.GenerateName != "agent-" {
		t.Fatalf("pod %+v", p.ObjectMeta)
	}
	if len(p.Spec.Tolerations) != 7 || p.Spec.Tolerations[0].Key != "dedicated" {
		t.Fatalf("tolerations %+v", p.Spec.Tolerations)
	}
	if !metav1.IsControlledBy(p, ds) {
		t.Fatal("not controlled by its DaemonSet")
	}
}
