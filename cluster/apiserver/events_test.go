package apiserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/apiserver/apiservertest"
)

// events.k8s.io/v1 Events are the stored core/v1 Events in another shape: one created
// through either API is read through the other with kube's field mapping (note ↔
// message, regarding ↔ involvedObject, deprecated* ↔ source, first/lastTimestamp,
// count), an events.k8s.io watch sees a core-created Event, a patch through
// events.k8s.io changes the core object, and the real kubectl lists them both ways.
func TestEventsV1SameEventsAsCore(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	cs := srv.Clientset()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	micro := metav1.NewMicroTime(now.Time)

	w, err := cs.EventsV1().Events("default").Watch(ctx, metav1.ListOptions{FieldSelector: "regarding.name=web-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	core, err := cs.CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.a"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1", APIVersion: "v1"},
		Reason:         "Scheduled", Message: "Successfully assigned default/web-1 to node-1", Type: "Normal",
		Source: corev1.EventSource{Component: "default-scheduler"}, FirstTimestamp: now, LastTimestamp: now, Count: 3,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		e, ok := ev.Object.(*eventsv1.Event)
		if !ok || ev.Type != "ADDED" || e.Name != "web-1.a" || e.Note != core.Message {
			t.Fatalf("watch through events.k8s.io/v1: %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event through events.k8s.io/v1 for a core-created Event")
	}
	v1, err := cs.EventsV1().Events("default").Get(ctx, "web-1.a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Note != core.Message || v1.Regarding != core.InvolvedObject || v1.Reason != "Scheduled" || v1.Type != "Normal" ||
		v1.DeprecatedSource != core.Source || !v1.DeprecatedFirstTimestamp.Equal(&now) || !v1.DeprecatedLastTimestamp.Equal(&now) ||
		v1.DeprecatedCount != 3 || v1.UID != core.UID || v1.ResourceVersion != core.ResourceVersion {
		t.Fatalf("core Event through events.k8s.io/v1: %+v\nfrom %+v", v1, core)
	}

	created, err := cs.EventsV1().Events("default").Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web-2.b"}, EventTime: micro,
		Series:              &eventsv1.EventSeries{Count: 2, LastObservedTime: micro},
		ReportingController: "example.com/ctl", ReportingInstance: "ctl-1", Action: "Scaling", Reason: "Scaled",
		Regarding: corev1.ObjectReference{Kind: "Deployment", Namespace: "default", Name: "web", APIVersion: "apps/v1"},
		Related:   &corev1.ObjectReference{Kind: "ReplicaSet", Namespace: "default", Name: "web-1"},
		Note:      "scaled up to 2", Type: "Normal",
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cs.CoreV1().Events("default").Get(ctx, "web-2.b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Message != "scaled up to 2" || c.InvolvedObject != created.Regarding || *c.Related != *created.Related ||
		c.ReportingController != "example.com/ctl" || c.ReportingInstance != "ctl-1" || c.Action != "Scaling" ||
		!c.EventTime.Equal(&micro) || c.Series == nil || c.Series.Count != 2 || c.UID != created.UID {
		t.Fatalf("events.k8s.io/v1 Event through core: %+v", c)
	}

	if _, err := cs.EventsV1().Events("default").Patch(ctx, "web-2.b", types.MergePatchType,
		[]byte(`{"note":"scaled up to 3"}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if c, err = cs.CoreV1().Events("default").Get(ctx, "web-2.b", metav1.GetOptions{}); err != nil || c.Message != "scaled up to 3" {
		t.Fatalf("after a patch of note: message %q, %v", c.Message, err)
	}
	l, err := cs.EventsV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "reportingController=example.com/ctl"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "web-2.b" {
		t.Fatalf("list by reportingController: %+v, %v", l, err)
	}
	if _, err := cs.EventsV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web"}); err == nil {
		t.Fatal("events.k8s.io/v1 accepted core's field label involvedObject.name")
	}

	k := newKubectl(t, srv)
	k.ok(args("api-resources --api-group=events.k8s.io"), "events", "ev", "events.k8s.io/v1", "true", "Event")
	k.ok(args("explain events.regarding --api-version=events.k8s.io/v1"), "GROUP:      events.k8s.io", "regarding")
	k.ok(args("get events.events.k8s.io"), "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE",
		"Scheduled", "pod/web-1", "Successfully assigned", "Scaled", "deployment/web", "scaled up to 3")
	k.ok(args("get events.v1.events.k8s.io web-2.b -o jsonpath={.note}/{.regarding.name}"), "scaled up to 3/web")
	k.ok(args("get events"), "Scaled", "deployment/web", "scaled up to 3")
	k.ok(args("events --for deployment/web"), "Scaled", "scaled up to 3")
	k.ok(args("delete events.events.k8s.io web-2.b"), `event.events.k8s.io "web-2.b" deleted`)
	if _, err := cs.CoreV1().Events("default").Get(ctx, "web-2.b", metav1.GetOptions{}); err == nil {
		t.Fatal("deleted through events.k8s.io/v1 but still there in core")
	}
}
