package templates

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/printers"
)

// ResSection is one overview table of a kind shown the way `kubectl get` prints it:
// StatefulSets, DaemonSets, Ingresses, claims, volumes, classes, Secrets (type and key
// count, never values) and ServiceAccounts.
type ResSection struct {
	Kind       string // lower case, as in URLs: statefulset
	Title      string // catalogue key of the heading
	Empty      string // catalogue key of the hint shown when there are none
	Namespaced bool
	Columns    []string // kubectl's headers between NAME and AGE
	Rows       []ResRow
}

// ResRow is one object's row.
type ResRow struct {
	Kind, Namespace, Name string
	Cells                 []string // the Columns' cells
	Age                   string
	AgeAt                 int64
}

// ResColumns returns kubectl's headers of cols (priority 0, upper case, as kubectl prints
// them) between NAME and AGE, and their indexes in a row of printers.Cells.
func ResColumns(cols []metav1.TableColumnDefinition) ([]string, []int) {
	var names []string
	var idx []int
	for i, c := range cols {
		if c.Priority != 0 || c.Name == "Name" || c.Name == "Age" {
			continue
		}
		names = append(names, strings.ToUpper(c.Name))
		idx = append(idx, i)
	}
	return names, idx
}

// ResRowOf is obj's row: the printer's cells at idx.
func ResRowOf(kind string, obj runtime.Object, m metav1.Object, idx []int, now time.Time) ResRow {
	cells := printers.Cells(obj, now)
	r := ResRow{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Age: Age(m.GetCreationTimestamp(), now), AgeAt: Millis(m.GetCreationTimestamp())}
	for _, i := range idx {
		s := ""
		if i < len(cells) {
			s = fmt.Sprint(cells[i])
		}
		r.Cells = append(r.Cells, s)
	}
	return r
}
