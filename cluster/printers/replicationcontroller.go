package printers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func init() {
	columns[schema.GroupResource{Resource: "replicationcontrollers"}] = []metav1.TableColumnDefinition{
		nameColumn,
		col("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
		col("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
		col("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
	}
}

// replicationControllerCells are a ReplicaSet's, with the selector a label map.
func replicationControllerCells(rc *corev1.ReplicationController, now time.Time) []interface{} {
	desired := int64(0)
	if rc.Spec.Replicas != nil {
		desired = int64(*rc.Spec.Replicas)
	}
	var names, images string
	if rc.Spec.Template != nil {
		names, images = containersAndImages(rc.Spec.Template.Spec.Containers)
	}
	return []interface{}{
		rc.Name, desired, int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas), age(rc.CreationTimestamp, now),
		names, images, labels.FormatLabels(rc.Spec.Selector),
	}
}
