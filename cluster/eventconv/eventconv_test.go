package eventconv

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every field of an events.k8s.io/v1 Event survives the trip through the stored core
// form and back, and lands in the core field kube's conversion puts it in.
func TestRoundTrip(t *testing.T) {
	now := metav1.NewTime(time.Unix(1700000000, 0))
	micro := metav1.NewMicroTime(now.Time)
	in := &eventsv1.Event{
		TypeMeta:   metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"},
		ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns", UID: "u", ResourceVersion: "7", Labels: map[string]string{"a": "b"}},
		EventTime:  micro, Series: &eventsv1.EventSeries{Count: 4, LastObservedTime: micro},
		ReportingController: "ctl", ReportingInstance: "ctl-1", Action: "Act", Reason: "Why",
		Regarding: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "ns", UID: "pu", FieldPath: "spec.containers{c}"},
		Related:   &corev1.ObjectReference{Kind: "Node", Name: "n"},
		Note:      "note", Type: "Warning", DeprecatedSource: corev1.EventSource{Component: "kubelet", Host: "n"},
		DeprecatedFirstTimestamp: now, DeprecatedLastTimestamp: now, DeprecatedCount: 9,
	}
	c := ToCore(in)
	if c.Message != "note" || c.InvolvedObject != in.Regarding || c.Source != in.DeprecatedSource || c.Count != 9 ||
		!c.FirstTimestamp.Equal(&now) || !c.LastTimestamp.Equal(&now) || c.Series.Count != 4 || c.Related.Name != "n" ||
		c.APIVersion != "v1" || c.Kind != "Event" {
		t.Fatalf("core form: %+v", c)
	}
	if out := FromCore(c); !equality.Semantic.DeepEqual(out, in) {
		t.Fatalf("round trip changed the Event:\n got %+v\nwant %+v", out, in)
	}
	if l, ok := CoreFieldLabel("regarding.name"); !ok || l != "involvedObject.name" {
		t.Fatalf("regarding.name → %q %v", l, ok)
	}
	if _, ok := CoreFieldLabel("involvedObject.name"); ok {
		t.Fatal("core's label accepted for events.k8s.io/v1")
	}
}
