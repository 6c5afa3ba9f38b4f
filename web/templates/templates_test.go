package templates

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func renderDoc(t *testing.T, c templ.Component) *html.Node {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader("<table><tbody>" + b.String() + "</tbody></table>"))
	if strings.HasPrefix(strings.TrimSpace(b.String()), "<!doctype") {
		doc, err = html.Parse(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attr(n *html.Node, k string) string {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

// byTestID finds every element with data-testid=id.
func byTestID(n *html.Node, id string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "data-testid") == id {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func one(t *testing.T, n *html.Node, id string) *html.Node {
	t.Helper()
	got := byTestID(n, id)
	if len(got) != 1 {
		t.Fatalf("want 1 element data-testid=%q, got %d", id, len(got))
	}
	return got[0]
}

func TestPodRow(t *testing.T) {
	tr := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-rs-abcde", Namespace: "default", Labels: map[string]string{"tier": "app", "app": "echo"},
			CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second)),
			OwnerReferences:   []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-rs", Controller: &tr}}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5", ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", Ready: true, RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	doc := renderDoc(t, PodRowView(PodRowOf(p, now)))
	row := one(t, doc, "pod-row")
	if attr(row, "id") != "row-pod-default-echo-rs-abcde" || attr(row, "data-status") != "Running" {
		t.Errorf("row attrs %v", row.Attr)
	}
	st := one(t, doc, "status")
	if text(st) != "Running" || !strings.Contains(attr(st, "class"), "ok") {
		t.Errorf("status %q class %q", text(st), attr(st, "class"))
	}
	got := text(row)
	for _, want := range []string{"echo-rs-abcde", "ReplicaSet/echo-rs", "1/1", "node-1", "10.0.0.5", "app=echo", "tier=app", "90s"} {
		if !strings.Contains(got, want) {
			t.Errorf("row text %q lacks %q", got, want)
		}
	}
	if strings.Index(got, "app=echo") > strings.Index(got, "tier=app") {
		t.Errorf("labels not sorted: %q", got)
	}
	del := one(t, doc, "delete")
	if attr(del, "data-kind") != "pod" || attr(del, "data-name") != "echo-rs-abcde" {
		t.Errorf("delete button %v", del.Attr)
	}
}

func TestPodStatusReasons(t *testing.T) {
	for _, tc := range []struct {
		st   corev1.PodStatus
		want string
	}{
		{corev1.PodStatus{Phase: corev1.PodPending}, "Pending"},
		{corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}, "ContainerCreating"},
		{corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}, "CrashLoopBackOff"},
		{corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}, "Completed"},
	} {
		p := &corev1.Pod{Status: tc.st}
		if got := PodStatus(p); got != tc.want {
			t.Errorf("PodStatus = %q want %q", got, tc.want)
		}
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: now}}}
	if PodStatus(p) != "Terminating" {
		t.Error("deleting pod is not Terminating")
	}
}

func TestRSRowScale(t *testing.T) {
	r := int32(3)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo-rs", Namespace: "default"},
		Spec:   appsv1.ReplicaSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo", "tier": "app"}}},
		Status: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1}}
	doc := renderDoc(t, RSRowView(RSRowOf(rs, now)))
	row := one(t, doc, "rs-row")
	if !strings.Contains(text(row), "app=echo,tier=app") {
		t.Errorf("selector missing: %q", text(row))
	}
	sc := one(t, doc, "scale")
	if attr(sc, "data-kind") != "replicaset" || attr(sc, "data-name") != "echo-rs" {
		t.Errorf("scale attrs %v", sc.Attr)
	}
	if v := attr(one(t, doc, "scale-input"), "value"); v != "3" {
		t.Errorf("scale input %q", v)
	}
	if c := attr(one(t, doc, "current"), "class"); !strings.Contains(c, "warn") {
		t.Errorf("1 of 3 should be warn, class %q", c)
	}
}

func TestNodeRowCordon(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	doc := renderDoc(t, NodeRowView(NodeRowOf(n, 2, now)))
	if s := text(one(t, doc, "status")); s != "Ready,SchedulingDisabled" {
		t.Errorf("status %q", s)
	}
	if b := one(t, doc, "uncordon"); attr(b, "data-on") != "false" {
		t.Errorf("uncordon button %v", b.Attr)
	}
	if len(byTestID(doc, "cordon")) != 0 {
		t.Error("cordoned node offers Cordon")
	}
}

func TestSvcRowEndpoints(t *testing.T) {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}}}}
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "a"}, {IP: "b"}}, NotReadyAddresses: []corev1.EndpointAddress{{IP: "c"}}}}}
	doc := renderDoc(t, SvcRowView(SvcRowOf(s, ep, now)))
	got := text(one(t, doc, "svc-row"))
	for _, want := range []string{"NodePort", "10.96.0.10", "80:30080/TCP", "app=echo", "2 ready", "1 not ready"} {
		if !strings.Contains(got, want) {
			t.Errorf("row %q lacks %q", got, want)
		}
	}
}

func TestOverviewPageAndLayout(t *testing.T) {
	p := Page{Title: "Overview", Active: "overview", CSRF: "tok123", StepsOK: true, StepMode: true, Nodes: []string{"node-1", "node-2"},
		Held: []HeldView{{Component: "scheduler", Message: "binding default/echo to node-1", N: 2, Flow: "pod", From: "scheduler", To: "apiserver", Style: "write", Sentence: "The scheduler will bind echo to node-1: it is the only node."}}}
	doc := renderDoc(t, OverviewPage(p, Overview{}))
	var csrf string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "meta" && attr(n, "name") == "csrf-token" {
			csrf = attr(n, "content")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if csrf != "tok123" {
		t.Errorf("csrf meta %q", csrf)
	}
	for _, id := range []string{"nodes", "pods", "replicasets", "deployments", "services", "animator", "diagram", "filter", "help", "confirm", "steps"} {
		one(t, doc, id)
	}
	if len(byTestID(doc, "held-step")) != 1 || !strings.Contains(text(one(t, doc, "held-step")), "The scheduler will bind echo to node-1") ||
		!strings.Contains(text(one(t, doc, "held-step")), "Next ②") {
		t.Error("held step not shown with its number and sentence")
	}
	if attr(one(t, doc, "stepmode"), "checked") == "" && !hasAttr(one(t, doc, "stepmode"), "checked") {
		t.Error("step mode box not checked")
	}
	if hasAttr(one(t, doc, "step-next"), "disabled") {
		t.Error("Next disabled in step mode")
	}
	// The steps come once, with the websocket's snapshot, not in the page as well.
	if n := len(byTestID(doc, "step")); n != 0 {
		t.Errorf("the page renders %d steps", n)
	}
	sv := StepView{Seq: 7, Flow: "pod", N: 2, Title: "scheduler binds it to a node", Component: "scheduler", Node: "node-1", Kind: "Pod", Namespace: "default", Name: "echo", ResourceVersion: "42", Diff: "+   nodeName: node-1\n"}
	st := one(t, renderDoc(t, StepItem(sv)), "step")
	if attr(st, "data-n") != "2" || attr(st, "data-node") != "node-1" || attr(st, "id") != "step-7" {
		t.Errorf("step attrs %v", st.Attr)
	}
	if !strings.Contains(text(st), "nodeName: node-1") || !strings.Contains(text(st), "42") {
		t.Errorf("step text %q lacks diff or resourceVersion", text(st))
	}
	// An older step is sent without its body, which the page fetches when it is opened.
	sv.Lazy = true
	lazy := one(t, renderDoc(t, StepItem(sv)), "step")
	if strings.Contains(text(lazy), "nodeName: node-1") || !strings.Contains(text(lazy), "scheduler binds it to a node") {
		t.Errorf("lazy step text %q: want the title without the diff", text(lazy))
	}
	// The diagram is drawn by diagram.js from the nodes and pods it lists.
	if got := attr(one(t, doc, "diagram"), "data-nodes"); got != `["node-1","node-2"]` {
		t.Errorf("diagram nodes %s", got)
	}
}

func hasAttr(n *html.Node, k string) bool {
	for _, a := range n.Attr {
		if a.Key == k {
			return true
		}
	}
	return false
}

func TestStepModeUnavailable(t *testing.T) {
	doc := renderDoc(t, StepsPage(Page{Title: "Steps", Active: "steps"}))
	if len(byTestID(doc, "stepmode")) != 0 {
		t.Error("step mode offered without a Gate")
	}
	one(t, doc, "steps-page")
}

func TestObjectPagePod(t *testing.T) {
	o := Object{Kind: "Pod", Namespace: "default", Name: "echo", Status: "Running", Color: "ok", ResourceVersion: "12", IsPod: true,
		Labels: []Label{{"app", "echo"}}, Containers: []string{"app", "db"}, YAML: "kind: Pod\n",
		Conditions: []Condition{{Type: "Ready", Status: "True"}},
		Owners:     []Ref{{Kind: "ReplicaSet", Namespace: "default", Name: "echo-rs", Note: "controller"}},
		Events:     []EventView{{Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned default/echo to node-1", Count: 1}}}
	doc := renderDoc(t, ObjectPage(Page{Title: "Pod echo"}, o))
	if c := byTestID(doc, "label-chip"); len(c) != 1 || attr(c[0], "data-key") != "app" {
		t.Errorf("label chips %d", len(c))
	}
	if n := len(byTestID(doc, "event")); n != 1 {
		t.Errorf("%d events", n)
	}
	if a := text(one(t, doc, "owner")); !strings.Contains(a, "ReplicaSet/echo-rs") {
		t.Errorf("owner %q", a)
	}
	if got := text(one(t, doc, "log-container")); got != "appdb" {
		t.Errorf("container picker %q", got)
	}
	one(t, doc, "term")
	one(t, doc, "yaml")
	if !hasAttr(one(t, doc, "kill"), "disabled") {
		t.Error("kill enabled without a killer")
	}
	if len(byTestID(doc, "endpoints")) != 0 || len(byTestID(doc, "scale")) != 0 {
		t.Error("pod page shows endpoints or scale")
	}
}

func TestObjectPageService(t *testing.T) {
	o := Object{Kind: "Service", Namespace: "default", Name: "echo", IsService: true,
		Endpoints: []Endpoint{{IP: "10.1.0.2", Port: "3000", Pod: "echo-a", Ready: true, HasTraffic: true, Bytes: true, Conns: 5, Active: 1, BytesIn: 2048, BytesOut: 40},
			{IP: "10.1.0.3", Port: "3000", Pod: "echo-b", Ready: false},
			// iptables mode: connections counted, bytes not, so none shown.
			{IP: "10.1.0.4", Port: "3000", Pod: "echo-c", Ready: true, HasTraffic: true, Conns: 2}}}
	doc := renderDoc(t, ObjectLive(o))
	eps := byTestID(doc, "endpoint")
	if len(eps) != 3 || attr(eps[0], "data-pod") != "echo-a" {
		t.Fatalf("endpoints %d", len(eps))
	}
	if r := text(one(t, eps[0], "conns")); r != "5" {
		t.Errorf("connections %q", r)
	}
	if r := text(one(t, eps[0], "bytes")); r != "2.0 KiB / 40 B" {
		t.Errorf("bytes %q", r)
	}
	if !strings.Contains(text(eps[1]), "not ready") {
		t.Errorf("second endpoint %q", text(eps[1]))
	}
	if r := text(one(t, eps[2], "conns")); r != "2" || len(byTestID(eps[2], "bytes")) != 0 || len(byTestID(eps[2], "active")) != 0 {
		t.Errorf("uncounted bytes shown: %q", text(eps[2]))
	}
}

func TestEditorExamples(t *testing.T) {
	ex := []Example{{ID: "echo-pod", Title: "example.echo-pod", YAML: "apiVersion: v1\nkind: Pod\n"}}
	doc := renderDoc(t, EditorPage(Page{Title: "YAML editor", Active: "editor"}, ex))
	one(t, doc, "example-echo-pod")
	for _, id := range []string{"yaml-input", "apply", "dryrun", "diff", "results"} {
		one(t, doc, id)
	}
}

func TestLoginPage(t *testing.T) {
	doc := renderDoc(t, Login("c1", true))
	one(t, doc, "login-token")
	if !strings.Contains(text(one(t, doc, "login-error")), "not right") {
		t.Error("no error shown")
	}
}
