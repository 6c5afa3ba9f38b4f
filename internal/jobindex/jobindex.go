// Package jobindex reads and writes an Indexed Job's completion indexes as Kubernetes
// does: a pod's batch.kubernetes.io/job-completion-index annotation, and the lists of
// status.completedIndexes and status.failedIndexes ("0-2,4"). The Job controller writes
// them; the dashboard reads them to tell why it deleted a pod.
package jobindex

import (
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Of is the pod's completion index annotation, if it is a number (≥ 0).
func Of(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	ix, err := strconv.Atoi(v)
	return ix, err == nil && ix >= 0
}

// Parse reads status.completedIndexes ("1,3-5,7"); what cannot be read is skipped.
func Parse(s string) sets.Set[int] {
	out := sets.New[int]()
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out.Insert(i)
		}
	}
	return out
}

// Format writes indexes as Kubernetes does: ascending, runs of three or more
// consecutive indexes as first-last, a pair as two ("0,1,3-5").
func Format(s sets.Set[int]) string {
	ix := sets.List(s)
	var parts []string
	for i := 0; i < len(ix); {
		j := i
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		switch j - i {
		case 0:
			parts = append(parts, strconv.Itoa(ix[i]))
		case 1:
			parts = append(parts, strconv.Itoa(ix[i]), strconv.Itoa(ix[j]))
		default:
			parts = append(parts, fmt.Sprintf("%d-%d", ix[i], ix[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
