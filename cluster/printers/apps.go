package printers

import (
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Columns of kubectl get statefulsets, daemonsets and controllerrevisions, as
// k8s.io/kubernetes/pkg/printers/internalversion prints them.
func init() {
	columns[schema.GroupResource{Group: "apps", Resource: "statefulsets"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Ready", "string", "Number of the pod with ready state"),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
	}
	columns[schema.GroupResource{Group: "apps", Resource: "daemonsets"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Desired", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
		col("Current", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
		col("Ready", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
		col("Up-to-date", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
		col("Available", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
		col("Node Selector", "string", "The node selector of the pod template."),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	}
	columns[schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Controller", "string", "Controller of the object"),
		col("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn,
	}
}

func statefulSetCells(s *appsv1.StatefulSet, now time.Time) []interface{} {
	desired := int64(0)
	if s.Spec.Replicas != nil {
		desired = int64(*s.Spec.Replicas)
	}
	names, images := containersAndImages(s.Spec.Template.Spec.Containers)
	return []interface{}{s.Name, itoa(int64(s.Status.ReadyReplicas)) + "/" + itoa(desired),
		age(s.CreationTimestamp, now), names, images}
}

func daemonSetCells(d *appsv1.DaemonSet, now time.Time) []interface{} {
	names, images := containersAndImages(d.Spec.Template.Spec.Containers)
	st := d.Status
	return []interface{}{d.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled),
		int64(st.NumberReady), int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
		labels.FormatLabels(d.Spec.Template.Spec.NodeSelector), age(d.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(d.Spec.Selector)}
}

func controllerRevisionCells(r *appsv1.ControllerRevision, now time.Time) []interface{} {
	controller := "<none>"
	if ref := metav1.GetControllerOf(r); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err == nil {
			controller = strings.ToLower(ref.Kind) + "." + gv.Group + "/" + ref.Name
		}
	}
	return []interface{}{r.Name, controller, r.Revision, age(r.CreationTimestamp, now)}
}
