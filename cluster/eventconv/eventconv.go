// Package eventconv converts between the two shapes of one stored Event: core/v1's
// (reason, message, source, firstTimestamp, lastTimestamp, count, involvedObject) and
// events.k8s.io/v1's (note, regarding, deprecated* fields). kube-apiserver stores one
// resource "events" and serves it in both groups; webkube stores core/v1 Events and
// shows them through events.k8s.io/v1 with this mapping, the one in Kubernetes's
// pkg/apis/events/v1 conversion.
package eventconv

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
)

// ToCore is the stored (core/v1) form of an events.k8s.io/v1 Event.
func ToCore(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          *in.ObjectMeta.DeepCopy(),
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	out.APIVersion, out.Kind = "v1", "Event"
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	return out
}

// FromCore is the events.k8s.io/v1 view of a stored core/v1 Event.
func FromCore(in *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		ObjectMeta:               *in.ObjectMeta.DeepCopy(),
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	out.APIVersion, out.Kind = eventsv1.SchemeGroupVersion.String(), "Event"
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	if in.Related != nil {
		r := *in.Related
		out.Related = &r
	}
	return out
}

// coreFieldLabels maps events.k8s.io/v1 field selector labels to the stored Event's.
var coreFieldLabels = map[string]string{
	"regarding.kind":            "involvedObject.kind",
	"regarding.namespace":       "involvedObject.namespace",
	"regarding.name":            "involvedObject.name",
	"regarding.uid":             "involvedObject.uid",
	"regarding.apiVersion":      "involvedObject.apiVersion",
	"regarding.resourceVersion": "involvedObject.resourceVersion",
	"regarding.fieldPath":       "involvedObject.fieldPath",
	"reportingController":       "reportingComponent",
	"deprecatedSource":          "source",
	"reason":                    "reason",
	"type":                      "type",
	"metadata.name":             "metadata.name",
	"metadata.namespace":        "metadata.namespace",
}

// CoreFieldLabel is the core/v1 field label for an events.k8s.io/v1 one; ok is false
// for a label events.k8s.io/v1 does not select on.
func CoreFieldLabel(label string) (string, bool) {
	l, ok := coreFieldLabels[label]
	return l, ok
}
