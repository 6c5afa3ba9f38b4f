// Package rollout is the Deployment page's rollout card: the revision history kept in the
// Deployment's ReplicaSets (revision, change-cause, what each changed in the pod template),
// Undo and "roll back to this revision" as `kubectl rollout undo [--to-revision]` does
// them, pause/resume, and a live bar of the old and new ReplicaSets within the bounds
// maxSurge and maxUnavailable set.
package rollout

import (
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"webkube/web/steps"
)

// Annotations the deployment controller and kubectl use, with Kubernetes' names.
const (
	RevisionAnnotation    = "deployment.kubernetes.io/revision"
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
)

// View is one Deployment's rollout as the page shows it.
type View struct {
	Namespace, Name string
	Paused          bool
	Recreate        bool   // strategy Recreate: no surge, all old pods go first
	Revision        int64  // the Deployment's current revision
	Desired         int32  // spec.replicas
	MaxSurge        int32  // resolved against Desired, as the controller does
	MaxUnavailable  int32  // resolved, likewise
	SurgeSpec       string // as written: "25%" or "1"
	UnavailableSpec string
	MaxTotal        int32 // Desired + MaxSurge: pods the rollout may have at once
	MinAvailable    int32 // Desired - MaxUnavailable: available pods it must keep
	Total           int32 // pods the ReplicaSets have now (status.replicas)
	Available       int32
	Sets            []Set      // the bar: the new ReplicaSet first, then old ones with pods
	Revisions       []Revision // newest first
}

// Set is one ReplicaSet in the bar.
type Set struct {
	Name                        string
	Revision                    int64
	New                         bool
	Desired, Current, Available int32
}

// Revision is one entry of the history (`kubectl rollout history`).
type Revision struct {
	Number      int64
	ReplicaSet  string
	ChangeCause string
	Images      string
	Current     bool
	Replicas    int32
	Diff        string // the pod template's change from the revision before, as a line diff
}

// Of builds the view of d from the ReplicaSets of its namespace; only those d controls
// count, as for the deployment controller.
func Of(d *appsv1.Deployment, all []*appsv1.ReplicaSet) View {
	v := View{Namespace: d.Namespace, Name: d.Name, Paused: d.Spec.Paused, Desired: replicas(d.Spec.Replicas),
		Revision: revisionOf(d.Annotations), Recreate: d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType}
	v.MaxSurge, v.MaxUnavailable, v.SurgeSpec, v.UnavailableSpec = fenceposts(d)
	v.MaxTotal, v.MinAvailable = v.Desired+v.MaxSurge, max(0, v.Desired-v.MaxUnavailable)
	owned := Owned(d, all)
	for _, rs := range owned {
		v.Total += rs.Status.Replicas
		v.Available += rs.Status.AvailableReplicas
		s := Set{Name: rs.Name, Revision: revisionOf(rs.Annotations), New: IsNew(d, rs),
			Desired: replicas(rs.Spec.Replicas), Current: rs.Status.Replicas, Available: rs.Status.AvailableReplicas}
		if s.New || s.Desired > 0 || s.Current > 0 {
			v.Sets = append(v.Sets, s)
		}
	}
	sort.SliceStable(v.Sets, func(i, j int) bool {
		if v.Sets[i].New != v.Sets[j].New {
			return v.Sets[i].New
		}
		return v.Sets[i].Revision > v.Sets[j].Revision
	})
	v.Revisions = history(d, owned)
	return v
}

// Owned lists the ReplicaSets d controls, oldest revision first.
func Owned(d *appsv1.Deployment, all []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID && rs.DeletionTimestamp == nil {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := revisionOf(out[i].Annotations), revisionOf(out[j].Annotations)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// IsNew says whether rs runs d's current template: the controller's "new ReplicaSet".
func IsNew(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	return EqualIgnoreHash(&d.Spec.Template, &rs.Spec.Template)
}

// EqualIgnoreHash compares two pod templates without the pod-template-hash label, which
// the controller adds to a ReplicaSet's copy and a Deployment's template never has.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	return apiequality.Semantic.DeepEqual(withoutHash(a), withoutHash(b))
}

func withoutHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	c := t.DeepCopy()
	delete(c.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	return c
}

// history is `kubectl rollout history`, newest first, each with its template's diff
// against the revision before it.
func history(d *appsv1.Deployment, owned []*appsv1.ReplicaSet) []Revision {
	var out []Revision
	prev := ""
	for _, rs := range owned {
		n := revisionOf(rs.Annotations)
		if n <= 0 {
			continue
		}
		tmpl := templateYAML(&rs.Spec.Template)
		r := Revision{Number: n, ReplicaSet: rs.Name, ChangeCause: rs.Annotations[ChangeCauseAnnotation],
			Images: images(&rs.Spec.Template), Current: IsNew(d, rs), Replicas: replicas(rs.Spec.Replicas)}
		if prev != "" {
			r.Diff = steps.LineDiff(prev, tmpl)
		}
		prev = tmpl
		out = append(out, r)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func templateYAML(t *corev1.PodTemplateSpec) string {
	b, err := yaml.Marshal(withoutHash(t))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func images(t *corev1.PodTemplateSpec) string {
	var out []string
	for _, c := range t.Spec.Containers {
		out = append(out, c.Name+"="+c.Image)
	}
	return strings.Join(out, ", ")
}

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down) against
// spec.replicas, and makes unavailable 1 when both are 0, as the controller does; the
// defaults are 25% each. Recreate has neither.
func fenceposts(d *appsv1.Deployment) (surge, unavail int32, surgeSpec, unavailSpec string) {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, 0, "", ""
	}
	s, u := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			s = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			u = *ru.MaxUnavailable
		}
	}
	desired := int(replicas(d.Spec.Replicas))
	sv, _ := intstr.GetScaledValueFromIntOrPercent(&s, desired, true)
	uv, _ := intstr.GetScaledValueFromIntOrPercent(&u, desired, false)
	if sv == 0 && uv == 0 {
		uv = 1
	}
	return int32(sv), int32(uv), s.String(), u.String()
}

func revisionOf(ann map[string]string) int64 {
	n, err := strconv.ParseInt(ann[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// Owner is the Deployment that controls a ReplicaSet, and the replicas it gave it.
type Owner struct {
	Namespace, Deployment string
	Replicas              int32
}

// OwnerOf says which Deployment controls rs, if one does: that Deployment's controller
// sets rs's replicas, so scaling rs by hand is undone at its next sync.
func OwnerOf(rs *appsv1.ReplicaSet) (Owner, bool) {
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.Kind != "Deployment" {
		return Owner{}, false
	}
	return Owner{Namespace: rs.Namespace, Deployment: ref.Name, Replicas: replicas(rs.Spec.Replicas)}, true
}
