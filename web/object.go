package web

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"webkube/web/probes"
	"webkube/web/rollout"
	"webkube/web/templates"
)

// object builds the object page's model from the caches. kind is the lower-case name used
// in URLs: pod, node, replicaset, deployment, service, job, cronjob.
func (d *Dashboard) object(kind, ns, name string) (templates.Object, bool) {
	now := d.now()
	var o templates.Object
	build := map[string]func(ns, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool){
		"pod": d.podObject, "node": d.nodeObject, "replicaset": d.rsObject, "deployment": d.deployObject,
		"service": d.serviceObject, "job": d.jobPage, "cronjob": d.cronJobPage,
	}[kind]
	var meta metav1.Object
	var obj runtime.Object
	ok := false
	if build != nil {
		meta, obj, ok = build(ns, name, &o, now)
	} else if meta, obj, ok = d.accessObject(kind, ns, name, &o); !ok {
		meta, obj, ok = d.resObject(kind, ns, name, &o)
	}
	if !ok {
		return o, false
	}
	o.Namespace, o.Name = meta.GetNamespace(), meta.GetName()
	o.ResourceVersion = meta.GetResourceVersion()
	o.Age, o.AgeAt = templates.Age(meta.GetCreationTimestamp(), now), templates.Millis(meta.GetCreationTimestamp())
	o.Labels = labelList(meta.GetLabels())
	for _, ref := range meta.GetOwnerReferences() {
		note := ""
		if ref.Controller != nil && *ref.Controller {
			note = "controller"
		}
		o.Owners = append(o.Owners, templates.Ref{Kind: ref.Kind, Namespace: meta.GetNamespace(), Name: ref.Name, Note: note})
	}
	o.YAML = toYAML(obj)
	o.Events = d.eventsFor(o.Kind, meta)
	return o, true
}

// condition is one row of an object's conditions table.
func condition(typ, status, reason, message string, at metav1.Time, now time.Time) templates.Condition {
	return templates.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		Age: templates.Age(at, now), AgeAt: templates.Millis(at)}
}

func (d *Dashboard) podObject(ns, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool) {
	p, err := d.l.pods.Pods(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	row := templates.PodRowOf(p, now)
	o.Kind, o.Status, o.Color, o.IsPod = "Pod", row.Status, row.Color, true
	o.Facts = []templates.Label{{Key: "node", Value: row.Node}, {Key: "pod IP", Value: p.Status.PodIP},
		{Key: "ready", Value: row.Ready}, {Key: "restarts", Value: fmt.Sprint(row.Restarts)},
		{Key: "restartPolicy", Value: string(p.Spec.RestartPolicy)}}
	for _, c := range p.Status.Conditions {
		o.Conditions = append(o.Conditions, condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime, now))
	}
	for _, c := range p.Spec.Containers {
		o.Containers = append(o.Containers, c.Name)
	}
	for _, cs := range p.Status.ContainerStatuses {
		o.Facts = append(o.Facts, templates.Label{Key: "container " + cs.Name, Value: containerState(cs)})
	}
	o.Kill = p.Spec.NodeName != ""
	o.ProbeBreak = hasProbes(p)
	svcs, _ := d.l.services.Services(p.Namespace).List(everything)
	pv := probes.Of(p, svcs)
	o.Probes = &pv
	return p, p, true
}

func (d *Dashboard) nodeObject(_, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool) {
	n, err := d.l.nodes.Get(name)
	if err != nil {
		return nil, nil, false
	}
	row := templates.NodeRowOf(n, d.podsOn(n.Name), now)
	o.Kind, o.Status, o.Color, o.IsNode, o.Unschedulable = "Node", row.Status, row.Color, true, n.Spec.Unschedulable
	o.Facts = []templates.Label{{Key: "internal IP", Value: row.IP}, {Key: "pods", Value: fmt.Sprint(row.Pods)},
		{Key: "kubelet", Value: row.Version}, {Key: "pod CIDR", Value: n.Spec.PodCIDR},
		{Key: "allocatable cpu", Value: n.Status.Allocatable.Cpu().String()},
		{Key: "allocatable memory", Value: n.Status.Allocatable.Memory().String()}}
	for _, c := range n.Status.Conditions {
		o.Conditions = append(o.Conditions, condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime, now))
	}
	pods, _ := d.l.pods.List(everything)
	for _, p := range pods {
		if p.Spec.NodeName == n.Name {
			o.Owned = append(o.Owned, templates.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, Note: templates.PodStatus(p), Verb: "runs"})
		}
	}
	return n, n, true
}

func (d *Dashboard) rsObject(ns, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool) {
	rs, err := d.l.rss.ReplicaSets(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	row := templates.RSRowOf(rs, now)
	o.Kind, o.Color, o.Scalable, o.Replicas = "ReplicaSet", row.Color, true, row.Desired
	o.Status = fmt.Sprintf("%d/%d ready", row.Ready, row.Desired)
	o.Facts = []templates.Label{{Key: "selector", Value: row.Selector}, {Key: "desired", Value: fmt.Sprint(row.Desired)},
		{Key: "current", Value: fmt.Sprint(row.Current)}, {Key: "ready", Value: fmt.Sprint(row.Ready)},
		{Key: "observedGeneration", Value: fmt.Sprint(rs.Status.ObservedGeneration)}}
	for _, c := range rs.Status.Conditions {
		o.Conditions = append(o.Conditions, condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime, now))
	}
	o.Owned = d.ownedPods(rs.Namespace, rs.UID, rs.Spec.Selector)
	if ow, ok := rollout.OwnerOf(rs); ok {
		o.RSOwner = &ow
	}
	return rs, rs, true
}

func (d *Dashboard) deployObject(ns, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool) {
	dp, err := d.l.deploys.Deployments(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	row := templates.DeployRowOf(dp, now)
	o.Kind, o.Color, o.Scalable, o.Replicas = "Deployment", row.Color, true, row.Desired
	o.Status = fmt.Sprintf("%d/%d ready", row.Ready, row.Desired)
	o.Facts = []templates.Label{{Key: "selector", Value: row.Selector}, {Key: "strategy", Value: string(dp.Spec.Strategy.Type)},
		{Key: "up-to-date", Value: fmt.Sprint(row.UpToDate)}, {Key: "available", Value: fmt.Sprint(row.Available)}}
	for _, c := range dp.Status.Conditions {
		o.Conditions = append(o.Conditions, condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime, now))
	}
	rss, _ := d.l.rss.ReplicaSets(ns).List(everything)
	rv := rollout.Of(dp, rss)
	o.Rollout = &rv
	for _, rs := range rss {
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == dp.UID {
			r := templates.RSRowOf(rs, now)
			o.Owned = append(o.Owned, templates.Ref{Kind: "ReplicaSet", Namespace: ns, Name: rs.Name,
				Note: fmt.Sprintf("%d/%d ready, revision %s", r.Ready, r.Desired, rs.Annotations["deployment.kubernetes.io/revision"])})
		}
	}
	return dp, dp, true
}

func (d *Dashboard) serviceObject(ns, name string, o *templates.Object, now time.Time) (metav1.Object, runtime.Object, bool) {
	s, err := d.l.services.Services(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	ep, _ := d.l.endpoints.Endpoints(ns).Get(name)
	row := templates.SvcRowOf(s, ep, now)
	o.Kind, o.Color, o.IsService = "Service", row.Color, true
	o.Status = fmt.Sprintf("%d ready endpoints", row.Ready)
	o.Facts = []templates.Label{{Key: "type", Value: row.Type}, {Key: "cluster IP", Value: row.ClusterIP},
		{Key: "ports", Value: row.Ports}, {Key: "selector", Value: row.Selector}}
	o.Endpoints = d.endpoints(s, ep)
	return s, s, true
}

func (d *Dashboard) jobPage(ns, name string, o *templates.Object, _ time.Time) (metav1.Object, runtime.Object, bool) {
	j, err := d.l.jobs.Jobs(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	d.jobObject(o, j)
	return j, j, true
}

func (d *Dashboard) cronJobPage(ns, name string, o *templates.Object, _ time.Time) (metav1.Object, runtime.Object, bool) {
	cj, err := d.l.cronJobs.CronJobs(ns).Get(name)
	if err != nil {
		return nil, nil, false
	}
	d.cronJobObject(o, cj)
	return cj, cj, true
}

func containerState(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Running != nil:
		s := "running"
		if cs.Ready {
			s += ", ready"
		}
		return s
	case cs.State.Waiting != nil:
		return "waiting: " + cs.State.Waiting.Reason
	case cs.State.Terminated != nil:
		return fmt.Sprintf("terminated: %s (exit %d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
	}
	return "unknown"
}

func labelList(m map[string]string) []templates.Label {
	out := make([]templates.Label, 0, len(m))
	for k, v := range m {
		out = append(out, templates.Label{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ownedPods lists the pods a controller owns, and the ones its selector matches that it
// does not own (orphans it could adopt, or pods owned by someone else).
func (d *Dashboard) ownedPods(ns string, uid any, sel *metav1.LabelSelector) []templates.Ref {
	var out []templates.Ref
	s, err := metav1.LabelSelectorAsSelector(sel)
	pods, _ := d.l.pods.Pods(ns).List(everything)
	sortByName(pods, func(p *corev1.Pod) string { return p.Name })
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		switch {
		case ref != nil && any(ref.UID) == uid:
			out = append(out, templates.Ref{Kind: "Pod", Namespace: ns, Name: p.Name, Note: templates.PodStatus(p)})
		case err == nil && !s.Empty() && s.Matches(labels.Set(p.Labels)) && ref == nil:
			out = append(out, templates.Ref{Kind: "Pod", Namespace: ns, Name: p.Name, Note: "matches the selector but not owned (will be adopted)"})
		}
	}
	return out
}

func (d *Dashboard) endpoints(s *corev1.Service, ep *corev1.Endpoints) []templates.Endpoint {
	if ep == nil {
		return nil
	}
	var traffic map[string]Traffic
	src, bytes, _ := d.traffic()
	if src != nil {
		traffic = src.EndpointTraffic(s.Namespace, s.Name)
	}
	var out []templates.Endpoint
	add := func(a corev1.EndpointAddress, port int32, ready bool) {
		e := templates.Endpoint{IP: a.IP, Port: fmt.Sprint(port), Ready: ready}
		if a.TargetRef != nil {
			e.Pod = a.TargetRef.Name
		}
		if a.NodeName != nil {
			e.Node = *a.NodeName
		}
		if t, ok := traffic[fmt.Sprintf("%s:%d", a.IP, port)]; ok {
			e.Conns, e.Active, e.BytesIn, e.BytesOut, e.HasTraffic = t.Connections, t.Active, t.BytesIn, t.BytesOut, true
			e.Bytes = bytes
		} else if traffic != nil {
			e.HasTraffic = true
		}
		out = append(out, e)
	}
	for _, ss := range ep.Subsets {
		port := int32(0)
		if len(ss.Ports) > 0 {
			port = ss.Ports[0].Port
		}
		for _, a := range ss.Addresses {
			add(a, port, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, port, false)
		}
	}
	return out
}

// eventsFor lists the Events about an object, newest last, as kubectl describe does.
func (d *Dashboard) eventsFor(kind string, m metav1.Object) []templates.EventView {
	evs, _ := d.l.events.List(everything)
	var mine []*corev1.Event
	for _, e := range evs {
		io := e.InvolvedObject
		if io.Kind == kind && io.Name == m.GetName() && io.Namespace == m.GetNamespace() &&
			(io.UID == "" || io.UID == m.GetUID()) {
			mine = append(mine, e)
		}
	}
	// Event times have a resolution of one second, so events of the same second are put in
	// the order the API server stored them (resourceVersion), not the lister's map order.
	sort.Slice(mine, func(i, j int) bool {
		ti, tj := eventTime(mine[i]).Time, eventTime(mine[j]).Time
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return rvLess(mine[i].ResourceVersion, mine[j].ResourceVersion)
	})
	now := d.now()
	var out []templates.EventView
	for _, e := range mine {
		src := e.Source.Component
		if e.Source.Host != "" {
			src += ", " + e.Source.Host
		}
		if src == "" {
			src = e.ReportingController
		}
		out = append(out, templates.EventView{Type: e.Type, Reason: e.Reason, Message: e.Message, Source: src,
			Age: templates.Age(eventTime(e), now), AgeAt: templates.Millis(eventTime(e)), Count: e.Count})
	}
	return out
}

// rvLess orders resourceVersions, which webkube's store hands out as increasing integers;
// shorter is smaller, so no parse is needed (and an odd one still sorts somewhere).
func rvLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func eventTime(e *corev1.Event) (t metav1.Time) {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.NewTime(e.EventTime.Time)
	}
	return e.CreationTimestamp
}

// toYAML shows an object the way `kubectl get -o yaml` does, minus managedFields.
func toYAML(obj runtime.Object) string {
	c := obj.DeepCopyObject()
	if m, ok := c.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	if gvks, _, err := scheme.Scheme.ObjectKinds(c); err == nil && len(gvks) > 0 {
		c.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// hasProbes says whether any container has a liveness, readiness or startup probe: only
// then is there a probe to make fail.
func hasProbes(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil {
			return true
		}
	}
	return false
}
