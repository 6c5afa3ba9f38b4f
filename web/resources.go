package web

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/printers"
	"webkube/web/i18n"
	"webkube/web/templates"
)

// resKind is a kind the overview shows as `kubectl get` prints it, from the printers'
// own columns and cells, with an object page built the same way.
type resKind struct {
	kind, Kind   string // "statefulset", "StatefulSet"
	title, empty string // catalogue keys of its section's heading and empty hint
	gr           schema.GroupResource
	namespaced   bool
	list         func(l *listers) ([]runtime.Object, error)
	get          func(l *listers, ns, name string) (runtime.Object, error)
}

func listOf[T runtime.Object](xs []T, err error) ([]runtime.Object, error) {
	out := make([]runtime.Object, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out, err
}

func getOf[T runtime.Object](x T, err error) (runtime.Object, error) { return x, err }

var resKinds = []resKind{
	{kind: "statefulset", title: i18n.K("res.title_statefulset"), empty: i18n.K("res.empty_statefulset"), Kind: "StatefulSet", gr: schema.GroupResource{Group: "apps", Resource: "statefulsets"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.sets.List(everything)) },
		get:  func(l *listers, ns, n string) (runtime.Object, error) { return getOf(l.sets.StatefulSets(ns).Get(n)) }},
	{kind: "daemonset", title: i18n.K("res.title_daemonset"), empty: i18n.K("res.empty_daemonset"), Kind: "DaemonSet", gr: schema.GroupResource{Group: "apps", Resource: "daemonsets"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.daemons.List(everything)) },
		get:  func(l *listers, ns, n string) (runtime.Object, error) { return getOf(l.daemons.DaemonSets(ns).Get(n)) }},
	{kind: "ingress", title: i18n.K("res.title_ingress"), empty: i18n.K("res.empty_ingress"), Kind: "Ingress", gr: schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.ingresses.List(everything)) },
		get:  func(l *listers, ns, n string) (runtime.Object, error) { return getOf(l.ingresses.Ingresses(ns).Get(n)) }},
	{kind: "ingressclass", title: i18n.K("admres.title_ingressclass"), empty: i18n.K("admres.empty_ingressclass"), Kind: "IngressClass", gr: schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"},
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.ingClass.List(everything)) },
		get:  func(l *listers, _, n string) (runtime.Object, error) { return getOf(l.ingClass.Get(n)) }},
	{kind: "persistentvolumeclaim", title: i18n.K("res.title_persistentvolumeclaim"), empty: i18n.K("res.empty_persistentvolumeclaim"), Kind: "PersistentVolumeClaim", gr: schema.GroupResource{Resource: "persistentvolumeclaims"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.claims.List(everything)) },
		get: func(l *listers, ns, n string) (runtime.Object, error) {
			return getOf(l.claims.PersistentVolumeClaims(ns).Get(n))
		}},
	{kind: "persistentvolume", title: i18n.K("res.title_persistentvolume"), empty: i18n.K("res.empty_persistentvolume"), Kind: "PersistentVolume", gr: schema.GroupResource{Resource: "persistentvolumes"},
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.volumes.List(everything)) },
		get:  func(l *listers, _, n string) (runtime.Object, error) { return getOf(l.volumes.Get(n)) }},
	{kind: "storageclass", title: i18n.K("res.title_storageclass"), empty: i18n.K("res.empty_storageclass"), Kind: "StorageClass", gr: schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"},
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.classes.List(everything)) },
		get:  func(l *listers, _, n string) (runtime.Object, error) { return getOf(l.classes.Get(n)) }},
	{kind: "horizontalpodautoscaler", title: i18n.K("hpa.title"), empty: i18n.K("hpa.empty"), Kind: "HorizontalPodAutoscaler", gr: schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.hpas.List(everything)) },
		get: func(l *listers, ns, n string) (runtime.Object, error) {
			return getOf(l.hpas.HorizontalPodAutoscalers(ns).Get(n))
		}},
	{kind: "resourcequota", title: i18n.K("admres.title_resourcequota"), empty: i18n.K("admres.empty_resourcequota"), Kind: "ResourceQuota", gr: schema.GroupResource{Resource: "resourcequotas"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.quotas.List(everything)) },
		get: func(l *listers, ns, n string) (runtime.Object, error) {
			return getOf(l.quotas.ResourceQuotas(ns).Get(n))
		}},
	{kind: "limitrange", title: i18n.K("admres.title_limitrange"), empty: i18n.K("admres.empty_limitrange"), Kind: "LimitRange", gr: schema.GroupResource{Resource: "limitranges"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.limits.List(everything)) },
		get:  func(l *listers, ns, n string) (runtime.Object, error) { return getOf(l.limits.LimitRanges(ns).Get(n)) }},
	{kind: "poddisruptionbudget", title: i18n.K("admres.title_poddisruptionbudget"), empty: i18n.K("admres.empty_poddisruptionbudget"), Kind: "PodDisruptionBudget", gr: schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.pdbs.List(everything)) },
		get: func(l *listers, ns, n string) (runtime.Object, error) {
			return getOf(l.pdbs.PodDisruptionBudgets(ns).Get(n))
		}},
	{kind: "priorityclass", title: i18n.K("admres.title_priorityclass"), empty: i18n.K("admres.empty_priorityclass"), Kind: "PriorityClass", gr: schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"},
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.prios.List(everything)) },
		get:  func(l *listers, _, n string) (runtime.Object, error) { return getOf(l.prios.Get(n)) }},
	{kind: "secret", title: i18n.K("res.title_secret"), empty: i18n.K("res.empty_secret"), Kind: "Secret", gr: schema.GroupResource{Resource: "secrets"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.secrets.List(everything)) }},
	{kind: "serviceaccount", title: i18n.K("res.title_serviceaccount"), empty: i18n.K("res.empty_serviceaccount"), Kind: "ServiceAccount", gr: schema.GroupResource{Resource: "serviceaccounts"}, namespaced: true,
		list: func(l *listers) ([]runtime.Object, error) { return listOf(l.accounts.List(everything)) }},
}

func resKindOf(kind string) (resKind, bool) {
	for _, rk := range resKinds {
		if rk.kind == kind {
			return rk, true
		}
	}
	return resKind{}, false
}

// resRow is obj's overview row.
func (d *Dashboard) resRow(rk resKind, obj runtime.Object) templates.ResRow {
	_, idx := templates.ResColumns(printers.Columns(rk.gr))
	m, _ := meta.Accessor(obj)
	return templates.ResRowOf(rk.kind, obj, m, idx, d.now())
}

// resSections are the overview's tables of resKinds, sorted by namespace and name.
func (d *Dashboard) resSections() []templates.ResSection {
	var out []templates.ResSection
	for _, rk := range resKinds {
		cols, _ := templates.ResColumns(printers.Columns(rk.gr))
		s := templates.ResSection{Kind: rk.kind, Title: rk.title, Empty: rk.empty,
			Namespaced: rk.namespaced, Columns: cols}
		objs, _ := rk.list(&d.l)
		for _, obj := range objs {
			s.Rows = append(s.Rows, d.resRow(rk, obj))
		}
		sort.Slice(s.Rows, func(i, j int) bool {
			return s.Rows[i].Namespace+"/"+s.Rows[i].Name < s.Rows[j].Namespace+"/"+s.Rows[j].Name
		})
		out = append(out, s)
	}
	return out
}

// resObject fills an object page of a resKind (Secrets and ServiceAccounts have their
// own, see accessObject): kubectl's columns as facts, and what the object relates to.
func (d *Dashboard) resObject(kind, ns, name string, o *templates.Object) (metav1.Object, runtime.Object, bool) {
	rk, ok := resKindOf(kind)
	if !ok || rk.get == nil {
		return nil, nil, false
	}
	obj, err := rk.get(&d.l, ns, name)
	if err != nil {
		return nil, nil, false
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, false
	}
	cols, idx := templates.ResColumns(printers.Columns(rk.gr))
	row := templates.ResRowOf(kind, obj, m, idx, d.now())
	o.Kind, o.Color = rk.Kind, "ok"
	for i, c := range cols {
		o.Facts = append(o.Facts, templates.Label{Key: strings.ToLower(c), Value: row.Cells[i]})
	}
	if len(row.Cells) > 0 {
		o.Status = cols[0] + " " + row.Cells[0]
	}
	d.resRelated(obj, o)
	return m, obj, true
}

// resRelated adds what an object page lists besides its facts: a set's pods, a claim's
// pods, an Ingress's routes.
func (d *Dashboard) resRelated(obj runtime.Object, o *templates.Object) {
	switch x := obj.(type) {
	case *appsv1.StatefulSet:
		o.Owned = d.ownedPods(x.Namespace, x.UID, x.Spec.Selector)
	case *appsv1.DaemonSet:
		o.Owned = d.ownedPods(x.Namespace, x.UID, x.Spec.Selector)
	case *corev1.PersistentVolumeClaim:
		o.Owned = d.podsUsing(x.Namespace, func(p *corev1.Pod) bool { return podUsesClaim(p, x.Name) }, "is used by")
	case *policyv1.PodDisruptionBudget:
		o.Owned = d.podsSelected(x.Namespace, x.Spec.Selector, "protects")
	case *corev1.ResourceQuota:
		o.Facts = append(o.Facts, quotaFacts(x)...)
	case *corev1.LimitRange:
		o.Facts = append(o.Facts, limitFacts(x)...)
	case *networkingv1.Ingress:
		for _, r := range x.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				o.Facts = append(o.Facts, templates.Label{Key: "route " + ingressHost(r.Host) + p.Path, Value: ingressBackend(p.PathType, p.Backend)})
			}
		}
		if b := x.Spec.DefaultBackend; b != nil {
			o.Facts = append(o.Facts, templates.Label{Key: "defaultBackend", Value: ingressBackend(nil, *b)})
		}
	}
}

func podUsesClaim(p *corev1.Pod, claim string) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
			return true
		}
	}
	return false
}

func ingressHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

func ingressBackend(pt *networkingv1.PathType, b networkingv1.IngressBackend) string {
	s := ""
	switch {
	case b.Service != nil && b.Service.Port.Name != "":
		s = "Service " + b.Service.Name + ":" + b.Service.Port.Name
	case b.Service != nil:
		s = fmt.Sprintf("Service %s:%d", b.Service.Name, b.Service.Port.Number)
	case b.Resource != nil:
		s = b.Resource.Kind + " " + b.Resource.Name
	}
	if pt != nil {
		s += " (" + string(*pt) + ")"
	}
	return s
}

// podsSelected are the pods in ns a PodDisruptionBudget's selector picks (it owns none).
func (d *Dashboard) podsSelected(ns string, sel *metav1.LabelSelector, verb string) []templates.Ref {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil {
		return nil
	}
	return d.podsUsing(ns, func(p *corev1.Pod) bool { return s.Matches(labels.Set(p.Labels)) }, verb)
}

// quotaFacts are a quota's resources one a line, used/hard as kubectl describe prints them.
func quotaFacts(q *corev1.ResourceQuota) []templates.Label {
	names := make([]string, 0, len(q.Spec.Hard))
	for n := range q.Spec.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	out := make([]templates.Label, 0, len(names))
	for _, n := range names {
		used, hard := q.Status.Used[corev1.ResourceName(n)], q.Status.Hard[corev1.ResourceName(n)]
		out = append(out, templates.Label{Key: "used/hard " + n, Value: used.String() + "/" + hard.String()})
	}
	return out
}

// limitFacts are a LimitRange's limits, one a type and resource, since kubectl's columns
// (NAME, CREATED AT) say nothing of them.
func limitFacts(lr *corev1.LimitRange) []templates.Label {
	var out []templates.Label
	for _, it := range lr.Spec.Limits {
		names := map[corev1.ResourceName]bool{}
		for _, m := range []corev1.ResourceList{it.Min, it.Max, it.Default, it.DefaultRequest, it.MaxLimitRequestRatio} {
			for n := range m {
				names[n] = true
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, string(n))
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			out = append(out, templates.Label{Key: string(it.Type) + " " + n, Value: limitOf(it, corev1.ResourceName(n))})
		}
	}
	return out
}

// limitOf is "min 100m, max 1, default 500m, defaultRequest 200m" for one resource (the
// API server defaults defaultRequest from default, and default from max).
func limitOf(it corev1.LimitRangeItem, n corev1.ResourceName) string {
	var parts []string
	for _, f := range []struct {
		name string
		l    corev1.ResourceList
	}{{"min", it.Min}, {"max", it.Max}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}} {
		if q, ok := f.l[n]; ok {
			parts = append(parts, f.name+" "+q.String())
		}
	}
	return strings.Join(parts, ", ")
}
