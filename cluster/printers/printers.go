// Package printers turns objects into the rows `kubectl get` shows: the server-side
// meta.k8s.io/v1 Table, with the same columns a real cluster prints.
package printers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Columns returns the table columns for a resource (priority 1 = only with -o wide).
func Columns(gr schema.GroupResource) []metav1.TableColumnDefinition {
	// TODO(printers helper): implement.
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Age", Type: "string"},
	}
}

// Cells returns one row's cells for obj, matching Columns of its resource. now is used
// for ages so tests can fix the clock.
func Cells(obj runtime.Object, now time.Time) []interface{} {
	// TODO(printers helper): implement.
	return nil
}
