package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"nhooyr.io/websocket"

	"webkube/web/diagram"
	"webkube/web/i18n"
	"webkube/web/lessons"
	"webkube/web/steps"
	"webkube/web/stories"
	"webkube/web/templates"
	"webkube/web/traffic"
)

var everything = labels.Everything()

type listers struct {
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	events    corelisters.EventLister
	rss       appslisters.ReplicaSetLister
	deploys   appslisters.DeploymentLister
	jobs      batchlisters.JobLister
	cronJobs  batchlisters.CronJobLister
	secrets   corelisters.SecretLister
	accounts  corelisters.ServiceAccountLister
	sets      appslisters.StatefulSetLister
	daemons   appslisters.DaemonSetLister
	ingresses networkinglisters.IngressLister
	claims    corelisters.PersistentVolumeClaimLister
	volumes   corelisters.PersistentVolumeLister
	classes   storagelisters.StorageClassLister
	hpas      autoscalinglisters.HorizontalPodAutoscalerLister
	quotas    corelisters.ResourceQuotaLister
	limits    corelisters.LimitRangeLister
	pdbs      policylisters.PodDisruptionBudgetLister
	prios     schedulinglisters.PriorityClassLister
	ingClass  networkinglisters.IngressClassLister

	informers []cache.SharedIndexInformer
}

func newListers(f informers.SharedInformerFactory) listers {
	core, apps, batch := f.Core().V1(), f.Apps().V1(), f.Batch().V1()
	l := listers{
		pods: core.Pods().Lister(), nodes: core.Nodes().Lister(), services: core.Services().Lister(),
		endpoints: core.Endpoints().Lister(), events: core.Events().Lister(),
		rss: apps.ReplicaSets().Lister(), deploys: apps.Deployments().Lister(),
		jobs: batch.Jobs().Lister(), cronJobs: batch.CronJobs().Lister(),
		secrets: core.Secrets().Lister(), accounts: core.ServiceAccounts().Lister(),
		sets: apps.StatefulSets().Lister(), daemons: apps.DaemonSets().Lister(),
		ingresses: f.Networking().V1().Ingresses().Lister(), claims: core.PersistentVolumeClaims().Lister(),
		volumes: core.PersistentVolumes().Lister(), classes: f.Storage().V1().StorageClasses().Lister(),
		hpas:   f.Autoscaling().V2().HorizontalPodAutoscalers().Lister(),
		quotas: core.ResourceQuotas().Lister(), limits: core.LimitRanges().Lister(),
		pdbs: f.Policy().V1().PodDisruptionBudgets().Lister(), prios: f.Scheduling().V1().PriorityClasses().Lister(),
		ingClass: f.Networking().V1().IngressClasses().Lister(),
	}
	l.informers = []cache.SharedIndexInformer{core.Pods().Informer(), core.Nodes().Informer(),
		core.Services().Informer(), core.Endpoints().Informer(), core.Events().Informer(),
		apps.ReplicaSets().Informer(), apps.Deployments().Informer(),
		batch.Jobs().Informer(), batch.CronJobs().Informer(),
		core.Secrets().Informer(), core.ServiceAccounts().Informer(),
		apps.StatefulSets().Informer(), apps.DaemonSets().Informer(), f.Networking().V1().Ingresses().Informer(),
		core.PersistentVolumeClaims().Informer(), core.PersistentVolumes().Informer(), f.Storage().V1().StorageClasses().Informer(),
		f.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
		core.ResourceQuotas().Informer(), core.LimitRanges().Informer(), f.Policy().V1().PodDisruptionBudgets().Informer(),
		f.Scheduling().V1().PriorityClasses().Informer(), f.Networking().V1().IngressClasses().Informer()}
	return l
}

// change is one watch event (or a Gate notice) waiting for the dispatcher.
type change struct {
	kind     string // pod, node, service, endpoints, event, replicaset, deployment, job, cronjob, held
	typ      string // ADDED, MODIFIED, DELETED
	old, obj any
	at       time.Time
	initial  bool // an ADDED of an informer's initial list (not a step the learner saw)
}

func (d *Dashboard) addHandlers() {
	kinds := []string{"pod", "node", "service", "endpoints", "event", "replicaset", "deployment", "job", "cronjob", "secret", "serviceaccount",
		"statefulset", "daemonset", "ingress", "persistentvolumeclaim", "persistentvolume", "storageclass",
		"horizontalpodautoscaler", "resourcequota", "limitrange", "poddisruptionbudget", "priorityclass", "ingressclass"}
	for i, inf := range d.l.informers {
		kind := kinds[i]
		inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc: func(obj any, initial bool) {
				d.changes <- change{kind: kind, typ: "ADDED", obj: obj, at: d.clk.Now(), initial: initial}
			},
			UpdateFunc: func(old, obj any) {
				d.changes <- change{kind: kind, typ: "MODIFIED", old: old, obj: obj, at: d.clk.Now()}
			},
			DeleteFunc: func(obj any) {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				d.changes <- change{kind: kind, typ: "DELETED", obj: obj, at: d.clk.Now()}
			},
		})
	}
}

// msg is what the page's JavaScript applies. Kinds: "up" (replace or insert element id in
// container in), "rm" (remove id), "set" (replace the inner HTML of id), "step", "mode".
type msg struct {
	T    string          `json:"t"`
	ID   string          `json:"id,omitempty"`
	In   string          `json:"in,omitempty"`
	HTML string          `json:"html,omitempty"`
	Step *stepMsg        `json:"step,omitempty"`
	On   *bool           `json:"on,omitempty"`
	Ts   int64           `json:"ts,omitempty"` // when the watch event reached the dashboard (ms)
	Data json.RawMessage `json:"data,omitempty"`
}

type stepMsg struct {
	Seq       int    `json:"seq"`
	Flow      string `json:"flow"`
	N         int    `json:"n"`
	RSN       int    `json:"rsn"`
	Component string `json:"comp"`
	Node      string `json:"node"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Title     string `json:"title"`
}

// encode writes m as JSON without HTML escaping: the fragments are mostly markup, and
// json.Marshal's \u003c for every < made them up to a third bigger.
func encode(m msg) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// htmlIn renders c in lang (English when empty).
func htmlIn(lang string, c templ.Component) string {
	var b bytes.Buffer
	_ = c.Render(i18n.WithLang(context.Background(), lang), &b)
	return b.String()
}

// Topics: every tab gets "steps"; the overview "overview"; an object page "obj/<kind>/<ns>/<name>".
const (
	topicSteps    = "steps"
	topicOverview = "overview"
	topicObj      = "obj/"
)

// dispatch is the one goroutine that turns watch events into steps and rendered fragments,
// so each fragment is rendered once however many tabs are open. Each informer delivers on
// its own; the deriver holds a change that arrived before its owner's (see steps.hold),
// and this loop releases those whose owner's change never came in time.
func (d *Dashboard) dispatch(ctx context.Context) {
	der := steps.New(d.now)
	der.Versions = d.versions
	der.Latest = func(kind, ns, name string) (uint64, int64, bool, error) { return d.latest(ctx, kind, ns, name) }
	st := stories.New()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ch := <-d.changes:
			d.handle(der, st, ch)
		case now := <-timer.C:
			d.publishSteps(st, der.Due(now), now.UnixMilli())
		}
		if next := der.Next(); !next.IsZero() {
			timer.Reset(time.Until(next))
		}
	}
}

// versions is the deriver's view of the informer caches: the newest resourceVersion of
// a ReplicaSet, Deployment, Job or CronJob, which the cache has before its change reaches dispatch.
func (d *Dashboard) versions(kind, ns, name string) (uint64, bool) {
	var o metav1.Object
	var err error
	switch kind {
	case "ReplicaSet":
		o, err = d.l.rss.ReplicaSets(ns).Get(name)
	case "Deployment":
		o, err = d.l.deploys.Deployments(ns).Get(name)
	case "Job":
		o, err = d.l.jobs.Jobs(ns).Get(name)
	case "CronJob":
		o, err = d.l.cronJobs.CronJobs(ns).Get(name)
	default:
		return 0, false
	}
	if err != nil {
		return 0, false
	}
	rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return rv, err == nil
}

// latest reads an owner's resourceVersion from the API server, for a deletion the deriver
// would otherwise tell as the learner's (see steps.Deriver.Latest). It runs on the
// dispatcher, so it is bounded.
func (d *Dashboard) latest(ctx context.Context, kind, ns, name string) (uint64, int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var o metav1.Object
	var err error
	switch kind {
	case "ReplicaSet":
		o, err = d.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
	case "Job":
		o, err = d.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	case "CronJob":
		o, err = d.client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	default:
		return 0, 0, false, fmt.Errorf("no live read of %s", kind)
	}
	if apierrors.IsNotFound(err) {
		return 0, 0, false, nil
	} else if err != nil {
		return 0, 0, false, err
	}
	rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return rv, o.GetGeneration(), err == nil, err
}

// handle derives the steps of one change and publishes them first (the diagram's arrow
// is what the learner watches), then the table rows and open object pages it touches.
func (d *Dashboard) handle(der *steps.Deriver, st *stories.Tracker, ch change) {
	if ch.kind == "held" {
		held := d.heldViews()
		d.hub.publishLang(topicSteps, func(lang string) []byte {
			return encode(msg{T: "set", ID: "held", HTML: htmlIn(lang, templates.Held(held))})
		})
		return
	}
	ts := ch.at.UnixMilli()
	der.Listing = ch.initial
	r, ok := d.react(der, ch, ts)
	if !ok {
		return
	}
	if ch.initial {
		// The informers' initial list: the deriver learns where each object is, but
		// these are not steps that happened in front of the learner.
		r.derived = nil
	}
	d.publishSteps(st, r.derived, ts)
	if r.rows != nil {
		r.rows()
	}
	d.refreshObjects(ch.kind, r.ns, ts)
	d.refreshLessons()
}

// reaction is what one change does to the dashboard: the steps derived from it, and the
// table rows to redraw once those steps are out (nil: none, or drawn already).
type reaction struct {
	ns      string
	derived []steps.Step
	rows    func()
}

// react derives the steps and rows of one change by its kind; false when the change
// carries no object of that kind.
func (d *Dashboard) react(der *steps.Deriver, ch change, ts int64) (reaction, bool) {
	switch ch.kind {
	case "pod":
		return d.reactPod(der, ch, ts)
	case "node":
		return d.reactNode(ch, ts)
	case "replicaset", "deployment", "job", "cronjob":
		return d.reactWorkload(der, ch, ts)
	case "service", "endpoints":
		return d.reactService(der, ch, ts)
	case "secret", "serviceaccount", "statefulset", "daemonset", "ingress", "persistentvolumeclaim", "persistentvolume", "storageclass",
		"horizontalpodautoscaler", "resourcequota", "limitrange", "poddisruptionbudget", "priorityclass", "ingressclass":
		return d.reactResource(ch, ts)
	case "event":
		e, _ := ch.obj.(*corev1.Event)
		if e == nil || ch.typ == "DELETED" {
			return reaction{}, false
		}
		var pod *corev1.Pod
		if e.InvolvedObject.Kind == "Pod" {
			pod, _ = d.l.pods.Pods(e.InvolvedObject.Namespace).Get(e.InvolvedObject.Name)
		}
		return reaction{ns: e.Namespace, derived: der.Event(e, pod)}, true
	}
	return reaction{}, true
}

func (d *Dashboard) reactPod(der *steps.Deriver, ch change, ts int64) (reaction, bool) {
	p, _ := ch.obj.(*corev1.Pod)
	old, _ := ch.old.(*corev1.Pod)
	if p == nil {
		return reaction{}, false
	}
	return reaction{ns: p.Namespace, derived: der.Pod(ch.typ, old, p), rows: func() {
		d.podRowChanged(ch.typ, p, ts)
		// A node's pod count changes when pods are bound to it or leave it.
		for _, n := range nodesTouched(old, p) {
			if node, err := d.l.nodes.Get(n); err == nil {
				d.upsertOrRemove("MODIFIED", "node", "", n, "tbody-nodes", func() templ.Component {
					return templates.NodeRowView(templates.NodeRowOf(node, d.podsOn(n), d.now()))
				}, ts)
			}
		}
	}}, true
}

// reactNode redraws the node's row at once and, when a node comes or goes, the diagram.
func (d *Dashboard) reactNode(ch change, ts int64) (reaction, bool) {
	n, _ := ch.obj.(*corev1.Node)
	if n == nil {
		return reaction{}, false
	}
	d.upsertOrRemove(ch.typ, "node", "", n.Name, "tbody-nodes", func() templ.Component {
		return templates.NodeRowView(templates.NodeRowOf(n, d.podsOn(n.Name), d.now()))
	}, ts)
	if ch.typ != "MODIFIED" {
		nodes, tokens := d.nodeNames(), d.tokens()
		d.hub.publishLang(topicSteps, func(lang string) []byte {
			return encode(msg{T: "up", ID: "diagram", HTML: htmlIn(lang, diagram.View(nodes, tokens))})
		})
	}
	return reaction{}, true
}

// reactWorkload handles ReplicaSets, Deployments and Jobs (which have steps of their own)
// and CronJobs (their Jobs are their steps; the deriver notes their history limits).
func (d *Dashboard) reactWorkload(der *steps.Deriver, ch change, ts int64) (reaction, bool) {
	row := func(namespace, name string, view func() templ.Component) func() {
		return func() { d.upsertOrRemove(ch.typ, ch.kind, namespace, name, "tbody-"+ch.kind+"s", view, ts) }
	}
	switch o := ch.obj.(type) {
	case *appsv1.ReplicaSet:
		if o == nil {
			break // a nil pointer: no object
		}
		old, _ := ch.old.(*appsv1.ReplicaSet)
		return reaction{ns: o.Namespace, derived: der.ReplicaSet(ch.typ, old, o), rows: row(o.Namespace, o.Name, func() templ.Component {
			return templates.RSRowView(templates.RSRowOf(o, d.now()))
		})}, true
	case *appsv1.Deployment:
		if o == nil {
			break // a nil pointer: no object
		}
		old, _ := ch.old.(*appsv1.Deployment)
		return reaction{ns: o.Namespace, derived: der.Deployment(ch.typ, old, o), rows: row(o.Namespace, o.Name, func() templ.Component {
			return templates.DeployRowView(templates.DeployRowOf(o, d.now()))
		})}, true
	case *batchv1.Job:
		if o == nil {
			break // a nil pointer: no object
		}
		old, _ := ch.old.(*batchv1.Job)
		return reaction{ns: o.Namespace, derived: der.Job(ch.typ, old, o), rows: row(o.Namespace, o.Name, func() templ.Component {
			return templates.JobRowView(templates.JobRowOf(o, d.now()))
		})}, true
	case *batchv1.CronJob:
		if o == nil {
			break // a nil pointer: no object
		}
		return reaction{ns: o.Namespace, derived: der.CronJob(ch.typ, o), rows: row(o.Namespace, o.Name, func() templ.Component {
			return templates.CronJobRowView(templates.CronJobRowOf(o, d.now()))
		})}, true
	}
	return reaction{}, false
}

// reactService redraws a Service's row when it or its Endpoints change; Endpoints also
// have steps (a pod joins or leaves the Service).
func (d *Dashboard) reactService(der *steps.Deriver, ch change, ts int64) (reaction, bool) {
	if s, ok := ch.obj.(*corev1.Service); ok && s != nil {
		ep, _ := d.l.endpoints.Endpoints(s.Namespace).Get(s.Name)
		d.upsertOrRemove(ch.typ, "service", s.Namespace, s.Name, "tbody-services", func() templ.Component {
			return templates.SvcRowView(templates.SvcRowOf(s, ep, d.now()))
		}, ts)
		return reaction{ns: s.Namespace}, true
	}
	ep, _ := ch.obj.(*corev1.Endpoints)
	oldEP, _ := ch.old.(*corev1.Endpoints)
	if ep == nil {
		return reaction{}, false
	}
	r := reaction{ns: ep.Namespace, derived: der.Endpoints(ch.typ, oldEP, ep)}
	if s, err := d.l.services.Services(ep.Namespace).Get(ep.Name); err == nil {
		if ch.typ == "DELETED" {
			ep = nil
		}
		r.rows = func() {
			d.upsertOrRemove("MODIFIED", "service", s.Namespace, s.Name, "tbody-services", func() templ.Component {
				return templates.SvcRowView(templates.SvcRowOf(s, ep, d.now()))
			}, ts)
		}
	}
	return r, true
}

// reactResource redraws the row of a kind shown as kubectl prints it (resources.go).
func (d *Dashboard) reactResource(ch change, ts int64) (reaction, bool) {
	m, ok := ch.obj.(metav1.Object)
	obj, _ := ch.obj.(runtime.Object)
	rk, known := resKindOf(ch.kind)
	if !ok || obj == nil || !known {
		return reaction{}, false
	}
	return reaction{ns: m.GetNamespace(), rows: func() {
		d.upsertOrRemove(ch.typ, ch.kind, m.GetNamespace(), m.GetName(), "tbody-"+ch.kind, func() templ.Component {
			return templates.ResRowView(rk.namespaced, d.resRow(rk, obj))
		}, ts)
	}}, true
}

// publishSteps assigns the steps their stories, keeps them and sends them to every tab.
func (d *Dashboard) publishSteps(st *stories.Tracker, derived []steps.Step, ts int64) {
	if len(derived) == 0 {
		return
	}
	for i := range derived {
		st.Assign(&derived[i])
	}
	d.mu.Lock()
	d.ring.Add(derived...)
	d.mu.Unlock()
	for _, s := range derived {
		sv := d.withDecision(s, stepView(s))
		d.hub.publishLang(topicSteps, func(lang string) []byte {
			return encode(msg{T: "step", HTML: htmlIn(lang, templates.StepItem(sv)), Ts: ts,
				Step: &stepMsg{Seq: s.Seq, Flow: s.Flow, N: s.N, RSN: sv.RSN, Component: s.Component, Node: s.Node,
					Kind: s.Kind, Name: s.Name, Title: s.TitleIn(lang)}})
		})
	}
}

// tokens are the pods the diagram draws as the page opens; later ones come with steps.
func (d *Dashboard) tokens() []diagram.Token {
	pods, _ := d.l.pods.List(everything)
	sortByName(pods, func(p *corev1.Pod) string { return p.Namespace + "/" + p.Name })
	out := make([]diagram.Token, 0, len(pods))
	for _, p := range pods {
		phase := string(p.Status.Phase)
		switch st := templates.PodStatus(p); {
		case p.DeletionTimestamp != nil:
			phase = "Terminating"
		case templates.StatusColor(st) == "bad":
			phase = "Failed"
		case p.Spec.NodeName != "" && phase == "Pending":
			phase = "Bound"
		}
		out = append(out, diagram.Token{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Phase: phase})
	}
	return out
}

func nodesTouched(old, p *corev1.Pod) []string {
	var out []string
	if p.Spec.NodeName != "" {
		out = append(out, p.Spec.NodeName)
	}
	if old != nil && old.Spec.NodeName != "" && old.Spec.NodeName != p.Spec.NodeName {
		out = append(out, old.Spec.NodeName)
	}
	return out
}

func (d *Dashboard) podsOn(node string) int {
	pods, _ := d.l.pods.List(everything)
	n := 0
	for _, p := range pods {
		if p.Spec.NodeName == node {
			n++
		}
	}
	return n
}

func (d *Dashboard) upsertOrRemove(typ, kind, ns, name, in string, row func() templ.Component, ts int64) {
	id := templates.RowID(kind, ns, name)
	if typ == "DELETED" {
		d.hub.publish(topicOverview, encode(msg{T: "rm", ID: id, Ts: ts}))
		return
	}
	d.hub.publishLang(topicOverview, func(lang string) []byte {
		return encode(msg{T: "up", ID: id, In: in, HTML: htmlIn(lang, row()), Ts: ts})
	})
}

// refreshObjects re-renders the live part of every object page that is open and may be
// affected: same namespace (owned pods, events, endpoints), or any node page on pod changes.
func (d *Dashboard) refreshObjects(kind, ns string, ts int64) {
	for _, t := range d.hub.topicsWith(topicObj) {
		parts := strings.SplitN(strings.TrimPrefix(t, topicObj), "/", 3)
		if len(parts) != 3 {
			continue
		}
		okind, ons, oname := parts[0], parts[1], parts[2]
		if ons == "_" {
			ons = "" // a cluster-scoped object's page
		}
		if ons != ns && !(okind == "node" && (kind == "node" || kind == "pod" || kind == "event")) {
			continue
		}
		o, ok := d.object(okind, ons, oname)
		if !ok {
			d.hub.publishLang(t, func(lang string) []byte { return goneMsg(lang, ts) })
			continue
		}
		d.hub.publishLang(t, func(lang string) []byte {
			return encode(msg{T: "set", ID: "obj-live", HTML: htmlIn(lang, templates.ObjectLive(o)), Ts: ts})
		})
		d.hub.publishLang(t, func(lang string) []byte {
			return encode(msg{T: "set", ID: "obj-yaml", HTML: htmlIn(lang, templates.ObjectYAML(o))})
		})
		if okind == "service" {
			d.refreshTrafficHead(t, ons, oname)
		}
	}
}

// refreshTrafficHead re-renders the Service page's traffic card head (who answers, the
// NodePorts). The links get this machine's address in the browser, which knows how the
// page was reached (the hub does not), so they are rendered here without a host.
func (d *Dashboard) refreshTrafficHead(topic, ns, name string) {
	v := d.trafficView(ns, name, "")
	if v == nil {
		return
	}
	d.hub.publishLang(topic, func(lang string) []byte {
		return encode(msg{T: "set", ID: "traffic-head", HTML: htmlIn(lang, traffic.Head(*v))})
	})
}

// goneMsg tells an object page its object was deleted: the page says so and disables its
// actions (they could only fail, or worse, act on a new object of the same name).
func goneMsg(lang string, ts int64) []byte {
	return encode(msg{T: "gone", ID: "obj-live", HTML: `<p class="card gone wide" data-testid="gone">` + i18n.Tr(lang, "obj.deleted") + `</p>`, Ts: ts})
}

// trafficLoop pushes Service pages fresh traffic counters; the proxy's counters are not
// Kubernetes objects, so there is no watch to follow.
func (d *Dashboard) trafficLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, topic := range d.hub.topicsWith(topicObj + "service/") {
			parts := strings.SplitN(strings.TrimPrefix(topic, topicObj), "/", 3)
			if len(parts) != 3 {
				continue
			}
			src, _, _ := d.traffic()
			if src == nil {
				continue
			}
			b, _ := json.Marshal(src.EndpointTraffic(parts[1], parts[2]))
			if last[topic] == string(b) {
				continue
			}
			last[topic] = string(b)
			if o, ok := d.object(parts[0], parts[1], parts[2]); ok {
				d.hub.publishLang(topic, func(lang string) []byte {
					return encode(msg{T: "set", ID: "obj-live", HTML: htmlIn(lang, templates.ObjectLive(o))})
				})
			}
		}
	}
}

// stepBody answers the body of a step the snapshot sent without it.
func (d *Dashboard) stepBody(c echo.Context) error {
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "step number wanted")
	}
	d.mu.Lock()
	all := d.ring.All()
	d.mu.Unlock()
	for _, s := range all {
		if s.Seq == seq {
			return render(c, templates.StepBody(d.withDecision(s, stepView(s))))
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, i18n.T(c.Request().Context(), "anim.step_gone"))
}

// overview renders the tables from the informer caches.
func (d *Dashboard) overview() templates.Overview {
	now := d.now()
	var o templates.Overview
	o.PodPage = d.podPage(podView{})
	pods, _ := d.l.pods.List(everything)
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	nodes, _ := d.l.nodes.List(everything)
	sortByName(nodes, func(n *corev1.Node) string { return n.Name })
	for _, n := range nodes {
		o.Nodes = append(o.Nodes, templates.NodeRowOf(n, perNode[n.Name], now))
	}
	rss, _ := d.l.rss.List(everything)
	sortByName(rss, func(r *appsv1.ReplicaSet) string { return r.Namespace + "/" + r.Name })
	for _, r := range rss {
		o.ReplicaSets = append(o.ReplicaSets, templates.RSRowOf(r, now))
	}
	deps, _ := d.l.deploys.List(everything)
	sortByName(deps, func(r *appsv1.Deployment) string { return r.Namespace + "/" + r.Name })
	for _, r := range deps {
		o.Deployments = append(o.Deployments, templates.DeployRowOf(r, now))
	}
	jobs, _ := d.l.jobs.List(everything)
	sortByName(jobs, func(j *batchv1.Job) string { return j.Namespace + "/" + j.Name })
	for _, j := range jobs {
		o.Jobs = append(o.Jobs, templates.JobRowOf(j, now))
	}
	cjs, _ := d.l.cronJobs.List(everything)
	sortByName(cjs, func(j *batchv1.CronJob) string { return j.Namespace + "/" + j.Name })
	for _, j := range cjs {
		o.CronJobs = append(o.CronJobs, templates.CronJobRowOf(j, now))
	}
	svcs, _ := d.l.services.List(everything)
	sortByName(svcs, func(r *corev1.Service) string { return r.Namespace + "/" + r.Name })
	for _, s := range svcs {
		ep, _ := d.l.endpoints.Endpoints(s.Namespace).Get(s.Name)
		o.Services = append(o.Services, templates.SvcRowOf(s, ep, now))
	}
	o.Resources = d.resSections()
	return o
}

func sortByName[T any](xs []T, key func(T) string) {
	sort.Slice(xs, func(i, j int) bool { return key(xs[i]) < key(xs[j]) })
}

// live is the one websocket of a tab. The page says what it shows (?obj=kind/ns/name);
// right after subscribing it gets a snapshot, then every change.
func (d *Dashboard) live(c echo.Context) error {
	conn, err := websocket.Accept(c.Response(), c.Request(), nil) // nil options: Origin must match Host
	if err != nil {
		return nil // Accept already wrote the error
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	topics := []string{topicSteps}
	page := c.QueryParam("page")
	obj := c.QueryParam("obj")
	if page == "overview" {
		topics = append(topics, topicOverview)
	}
	if obj != "" {
		topics = append(topics, topicObj+obj)
	}
	if l := c.QueryParam("lesson"); l != "" {
		topics = append(topics, topicLesson+l)
	}
	cl := newClient(topics...)
	cl.lang = langOf(c)
	lang := cl.lang
	d.hub.add(cl)
	defer d.hub.remove(cl)
	go d.readViews(ctx, cancel, conn, cl)
	// Snapshot after subscribing: anything that changes meanwhile arrives after it.
	var snap [][]byte
	if page == "overview" {
		o := d.overview()
		snap = append(snap,
			encode(msg{T: "set", ID: "tbody-nodes", HTML: htmlIn(lang, templates.NodeRows(o.Nodes))}),
			encode(msg{T: "set", ID: "tbody-replicasets", HTML: htmlIn(lang, templates.RSRows(o.ReplicaSets))}),
			encode(msg{T: "set", ID: "tbody-deployments", HTML: htmlIn(lang, templates.DeployRows(o.Deployments))}),
			encode(msg{T: "set", ID: "tbody-services", HTML: htmlIn(lang, templates.SvcRows(o.Services))}),
			encode(msg{T: "set", ID: "tbody-jobs", HTML: htmlIn(lang, templates.JobRows(o.Jobs))}),
			encode(msg{T: "set", ID: "tbody-cronjobs", HTML: htmlIn(lang, templates.CronJobRows(o.CronJobs))}))
		cl.pods.render.Lock()
		snap = append(snap, d.pageMsgs(cl, lang, true)...)
		cl.pods.render.Unlock()
		for _, s := range o.Resources {
			snap = append(snap, encode(msg{T: "set", ID: "tbody-" + s.Kind, HTML: htmlIn(lang, templates.ResRows(s.Namespaced, s.Rows))}))
		}
	}
	if obj != "" {
		parts := strings.SplitN(obj, "/", 3)
		if len(parts) == 3 {
			if o, ok := d.object(parts[0], parts[1], parts[2]); ok {
				snap = append(snap, encode(msg{T: "set", ID: "obj-live", HTML: htmlIn(lang, templates.ObjectLive(o))}),
					encode(msg{T: "set", ID: "obj-yaml", HTML: htmlIn(lang, templates.ObjectYAML(o))}))
			} else {
				snap = append(snap, goneMsg(lang, 0)) // deleted between the page and its websocket
			}
		}
	}
	if l, ok := lessons.Find(c.QueryParam("lesson")); ok {
		if v, err := d.lessonView(ctx, l, lang); err == nil {
			snap = append(snap, encode(msg{T: "set", ID: "lesson-steps", HTML: htmlIn(lang, templates.LessonSteps(v))}))
		}
	}
	d.mu.Lock()
	all := d.ring.All()
	d.mu.Unlock()
	stepsHTML := d.storiesHTML(i18n.WithLang(ctx, lang), all, mineOn(obj))
	snap = append(snap, encode(msg{T: "set", ID: "steps", HTML: stepsHTML}),
		encode(msg{T: "up", ID: "diagram", HTML: htmlIn(lang, diagram.View(d.nodeNames(), d.tokens()))}))
	if d.cfg.Gate != nil {
		on := d.cfg.Gate.StepMode()
		snap = append(snap, encode(msg{T: "mode", On: &on}),
			encode(msg{T: "set", ID: "held", HTML: htmlIn(lang, templates.Held(d.heldViews()))}))
	}
	snap = append(snap, encode(msg{T: "ready"}))
	for _, m := range snap {
		if err := conn.Write(ctx, websocket.MessageText, m); err != nil {
			return nil
		}
	}
	_ = cl.pump(ctx, conn)
	return nil
}
