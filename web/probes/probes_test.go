package probes

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/net/html"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/web/i18n"
)

// The seed's echo-probe pod (liveness and readiness httpGet on 3000, period 5, failure 1)
// behind a Service: the card shows each setting and says what failing does.
func TestCardShowsSettingsAndEffects(t *testing.T) {
	get := func() *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)}},
			InitialDelaySeconds: 5, TimeoutSeconds: 2, PeriodSeconds: 5, FailureThreshold: 1}
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo-probe", Namespace: "default", Labels: map[string]string{"app": "echo"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", LivenessProbe: get(), ReadinessProbe: get()}},
			RestartPolicy: corev1.RestartPolicyAlways},
		Status: corev1.PodStatus{PodIP: "10.244.0.7", ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 2}}}}
	svcs := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "echo"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "noselector"}},
	}
	for _, lang := range []string{"en", "ko"} {
		var b bytes.Buffer
		if err := Card(Of(p, svcs)).Render(i18n.WithLang(context.Background(), lang), &b); err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(&b)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(all(doc, "data-testid", "probe")); n != 2 {
			t.Fatalf("%s: %d probes shown, want 2", lang, n)
		}
		byKind := map[string]*html.Node{}
		for _, pr := range all(doc, "data-testid", "probe") {
			byKind[attr(pr, "data-kind")] = pr
		}
		for _, kind := range []string{"liveness", "readiness"} {
			pr := byKind[kind]
			if pr == nil {
				t.Fatalf("%s: no %s probe", lang, kind)
			}
			got := []string{attr(pr, "data-handler")}
			for _, f := range []string{"target", "delay", "period", "timeout", "success", "failure"} {
				got = append(got, textOf(pr, "probe-"+f))
			}
			if want := "httpGet http://10.244.0.7:3000/ 5 5 2 1 1"; strings.Join(got, " ") != want {
				t.Errorf("%s %s: %q, want %q", lang, kind, got, want)
			}
		}
		ready, live := textOf(byKind["readiness"], "probe-explain"), textOf(byKind["liveness"], "probe-explain")
		if !strings.Contains(ready, "echo") || strings.Contains(ready, "other") || !strings.Contains(ready, "notReadyAddresses") {
			t.Errorf("%s readiness explanation: %q", lang, ready)
		}
		if !strings.Contains(live, "Always") || !strings.Contains(live, "5") {
			t.Errorf("%s liveness explanation: %q", lang, live)
		}
		if lang == "en" && (!strings.Contains(ready, "not restarted") || !strings.Contains(live, "starts it again")) {
			t.Errorf("explanations: readiness %q, liveness %q", ready, live)
		}
	}
	// A pod without probes says what that means.
	p.Spec.Containers[0].LivenessProbe, p.Spec.Containers[0].ReadinessProbe = nil, nil
	var b bytes.Buffer
	_ = Card(Of(p, nil)).Render(context.Background(), &b)
	if !strings.Contains(b.String(), `data-testid="probe-none"`) {
		t.Errorf("no-probe card: %s", b.String())
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// all lists the elements under n whose attribute key is val.
func all(n *html.Node, key, val string) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && attr(c, key) == val {
			out = append(out, c)
		}
	}
	return out
}

// textOf is the text of the first element under n with that data-testid.
func textOf(n *html.Node, testid string) string {
	found := all(n, "data-testid", testid)
	if len(found) == 0 {
		return ""
	}
	var b strings.Builder
	for c := range found[0].Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}
