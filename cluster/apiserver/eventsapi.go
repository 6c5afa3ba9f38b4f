package apiserver

import (
	"webkube/cluster/eventconv"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// events.k8s.io/v1 Events are the stored core/v1 Events seen in another shape, as in
// kube-apiserver, which stores one resource "events" and serves it in both groups.

var eventsV1 = eventsv1.SchemeGroupVersion

var eventsV1Resource = &resource{
	gvr: eventsV1.WithResource("events"), kind: "Event", singular: "event", namespaced: true,
	shortNames: []string{"ev"},
	view: &view{
		of:         coreV1.WithResource("events"),
		toStored:   func(o runtime.Object) (runtime.Object, error) { return eventconv.ToCore(o.(*eventsv1.Event)), nil },
		fromStored: func(o runtime.Object) (runtime.Object, error) { return eventconv.FromCore(o.(*corev1.Event)), nil },
		fieldLabel: eventconv.CoreFieldLabel,
	},
	newObj: func() runtime.Object { return &eventsv1.Event{} }, newList: func() runtime.Object { return &eventsv1.EventList{} },
	fields: func(o runtime.Object) fields.Set {
		e := o.(*eventsv1.Event)
		return fields.Set{
			"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace,
			"regarding.name": e.Regarding.Name, "regarding.uid": string(e.Regarding.UID),
			"regarding.apiVersion": e.Regarding.APIVersion, "regarding.resourceVersion": e.Regarding.ResourceVersion,
			"regarding.fieldPath": e.Regarding.FieldPath, "reason": e.Reason, "type": e.Type,
			"reportingController": e.ReportingController, "deprecatedSource": e.DeprecatedSource.Component,
		}
	},
}
