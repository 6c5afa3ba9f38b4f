package steps

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"webkube/web/diagram"
	"webkube/web/i18n"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestMain records every step this package's tests derive and then checks that each one's
// title and evidence are catalogue keys present in both languages (nested ones too), that
// the English is what Title and Evidence say, that the Korean is not the English, and
// that the diagram has a box at both ends of each one's arrow.
func TestMain(m *testing.M) {
	var all []Step
	made = func(s Step) { all = append(all, s) }
	code := m.Run()
	if code == 0 {
		if problems := unsaid(all); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "steps not said in both languages (%d steps seen):\n  %s\n", len(all), strings.Join(problems, "\n  "))
			code = 1
		} else if len(all) < 50 {
			fmt.Fprintf(os.Stderr, "only %d steps seen: is the recorder wired?\n", len(all))
			code = 1
		}
	}
	os.Exit(code)
}

// hangul finds a Korean syllable.
var hangul = regexp.MustCompile(`\p{Hangul}`)

// unsaid lists each step whose words are not in both catalogues.
func unsaid(all []Step) []string {
	var out []string
	en, ko := i18n.Keys("en"), i18n.Keys("ko")
	for _, s := range all {
		for _, k := range keysOf(i18n.Msg{Key: s.TitleKey, Args: s.TitleArgs}, s.Ev) {
			if _, ok := slices.BinarySearch(en, k); !ok {
				out = append(out, fmt.Sprintf("%s: key %s missing in en", s.Title, k))
			}
			if _, ok := slices.BinarySearch(ko, k); !ok {
				out = append(out, fmt.Sprintf("%s: key %s missing in ko", s.Title, k))
			}
		}
		for _, end := range []string{s.From, s.To} {
			if !diagram.HasBox(end) {
				out = append(out, fmt.Sprintf("%s: the diagram has no box %q, so its arrow is drawn nowhere", s.Title, end))
			}
		}
		switch {
		case s.TitleKey == "":
			out = append(out, "a title without a key: "+s.Title)
		case s.Ev.Key == "":
			out = append(out, "evidence without a key: "+s.Evidence)
		case s.TitleIn("en") != s.Title || s.EvidenceIn("en") != s.Evidence:
			out = append(out, "English differs: "+s.Title+" / "+s.Evidence)
		case !hangul.MatchString(s.TitleIn("ko")):
			out = append(out, "Korean title has no Korean: "+s.TitleIn("ko"))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// keysOf lists the keys of msgs and of the messages nested in their arguments.
func keysOf(msgs ...i18n.Msg) []string {
	var out []string
	for _, m := range msgs {
		if m.Key == "" {
			continue
		}
		out = append(out, m.Key)
		for _, a := range m.Args {
			if n, ok := a.(i18n.Msg); ok {
				out = append(out, keysOf(n)...)
			}
		}
	}
	return out
}

// The check above fails on a step with a key missing from a catalogue, an English-only
// title or evidence said without a key, or an arrow end the diagram has no box for.
func TestUnsaidCatches(t *testing.T) {
	ok := Step{Title: "scheduler sees the unassigned pod", TitleKey: "step.pod_1", From: APIServer, To: Scheduler,
		Ev: i18n.Msg{Key: "ev.event_on", Args: []any{"ADDED", "Pod", "default", "echo", i18n.Msg{Key: "ev.node_empty"}}}}
	ok.Evidence = ok.Ev.In("en")
	if p := unsaid([]Step{ok}); len(p) != 0 {
		t.Fatalf("a well-said step reported: %v", p)
	}
	missing := ok
	missing.Ev = i18n.Msg{Key: "ev.event_on", Args: []any{"ADDED", "Pod", "default", "echo", i18n.Msg{Key: "ev.nowhere"}}}
	missing.Evidence = missing.Ev.In("en")
	english := ok
	english.Ev, english.Evidence = i18n.Msg{}, "MODIFIED Pod default/echo: something English"
	noKey := ok
	noKey.TitleKey = ""
	nowhere := ok
	nowhere.From = "cloud-controller"
	for _, s := range []Step{missing, english, noKey, nowhere} {
		if p := unsaid([]Step{s}); len(p) == 0 {
			t.Errorf("not reported: %+v", s)
		}
	}
	// Evidence is said in Korean around the names it keeps.
	ev := evidenceOf("MODIFIED", "Pod", "default", "echo")(i18n.K("ev.node_set"), "node-1")
	if got := ev.In("ko"); got != "MODIFIED Pod default/echo: spec.nodeName이 node-1(으)로 정해졌습니다" {
		t.Errorf("Korean evidence %q", got)
	}
}

// The failure, readiness, endpoints and Deployment steps are derived here too, so the
// check in TestMain sees their words.
func TestFailureStepsSaid(t *testing.T) {
	d := New(clock())
	p := newPod("10")
	d.Pod("ADDED", nil, p)
	ev := func(reason, msg string, count int32) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{UID: types.UID(reason + msg)}, Reason: reason, Message: msg, Count: count,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", UID: "u1", Name: "echo", Namespace: "default"}}
	}
	var got []Step
	got = append(got, d.Event(ev("FailedScheduling", "0/1 nodes are available: 1 node(s) were unschedulable.", 1), p)...)
	b := p.DeepCopy()
	b.ResourceVersion, b.Spec.NodeName = "11", "node-1"
	got = append(got, d.Pod("MODIFIED", p, b)...)
	pull := b.DeepCopy()
	pull.ResourceVersion = "12"
	pull.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: "nope:1",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied"}}}}
	got = append(got, d.Pod("MODIFIED", b, pull)...)
	run := pull.DeepCopy()
	run.ResourceVersion = "13"
	run.Status.Phase = corev1.PodRunning
	run.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	run.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	got = append(got, d.Pod("MODIFIED", pull, run)...)
	unready := run.DeepCopy()
	unready.ResourceVersion = "14"
	unready.Status.Conditions[0].Status = corev1.ConditionFalse
	unready.Status.ContainerStatuses[0].RestartCount = 1
	unready.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}
	got = append(got, d.Pod("MODIFIED", run, unready)...)
	got = append(got, d.Event(ev("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", 1), unready)...)
	got = append(got, d.Event(ev("Killing", "Container app failed liveness probe, will be restarted", 1), unready)...)
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default", ResourceVersion: "15"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.5", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "echo"}}}}}}
	got = append(got, d.Endpoints("ADDED", nil, ep)...)
	got = append(got, d.Endpoints("MODIFIED", ep, &corev1.Endpoints{ObjectMeta: ep.ObjectMeta})...)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "16", Generation: 1}}
	got = append(got, d.Deployment("ADDED", nil, dep)...)
	dep2 := dep.DeepCopy()
	dep2.ResourceVersion, dep2.Generation = "17", 2
	dep2.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "echo:v2"}}
	got = append(got, d.Deployment("MODIFIED", dep, dep2)...)
	reasons := map[string]bool{}
	for _, s := range got {
		reasons[s.Reason] = true
	}
	for _, r := range []string{"FailedScheduling", "ErrImagePull", "Restarted", "NotReady", "Unhealthy", "Killing"} {
		if !reasons[r] {
			t.Errorf("no %s step in %q", r, summary(got))
		}
	}
	if s := got[len(got)-1]; s.Flow != FlowDeployment || !hangul.MatchString(s.EvidenceIn("ko")) {
		t.Errorf("last step %+v: Korean evidence %q", s, s.EvidenceIn("ko"))
	}
}
