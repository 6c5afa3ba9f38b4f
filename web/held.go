package web

import (
	"fmt"
	"strings"

	"webkube/cluster/scheduler"
	"webkube/cluster/stepper"
	"webkube/web/i18n"
	"webkube/web/steps"
	"webkube/web/templates"
)

// DecisionSource is the scheduler's record of why it placed (or could not place) a pod.
type DecisionSource interface {
	Decision(namespace, name string) (scheduler.Decision, bool)
}

// heldView turns an action the Gate holds into the arrow it is about to draw, its number
// and one plain sentence of what the component will do and why.
func heldView(s stepper.Step) templates.HeldView {
	h := templates.HeldView{Component: s.Component, Action: s.Action, Kind: s.Kind, Namespace: s.Namespace,
		Name: s.Name, Node: s.Node, Message: s.Message, To: steps.APIServer, Style: steps.Write}
	// The sentence is kept as a catalogue key and its arguments, so each page says it in
	// its own language; Sentence is the English.
	say := func(key string, args ...any) {
		h.Key, h.Args, h.Sentence = key, args, i18n.Tr("en", key, args...)
	}
	// why is the component's reason as a clause (": it has 1, wants 3"), said in the
	// page's language when the component gave it as a catalogue key.
	why := func() any {
		switch {
		case s.Because.Key != "":
			return i18n.Msg{Key: i18n.K("anim.held_why"), Args: []any{s.Because}}
		case s.Why != "":
			return ": " + s.Why
		}
		return ""
	}
	// says is what the component will do, as it said it (a catalogue key), or english.
	says := func(english string) any {
		if s.Says.Key != "" {
			return s.Says
		}
		return english
	}
	node := strings.TrimPrefix(s.Component, "kubelet/")
	switch s.Component + " " + s.Action {
	case "scheduler see-unassigned-pod":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 1, steps.APIServer, steps.Scheduler, steps.Watch
		say(i18n.K("anim.held_see"), s.Name)
	case "scheduler bind":
		h.Flow, h.N, h.From = steps.FlowPod, 2, steps.Scheduler
		say(i18n.K("anim.held_bind"), s.Name, s.Node, why())
	case "replicaset-controller see-diff":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowReplicaSet, 1, steps.APIServer, steps.RSCtrl, steps.Watch
		say(i18n.K("anim.held_rs_see"), s.Name, says(strings.TrimPrefix(s.Message, "ReplicaSet "+s.Name+" ")))
	case "replicaset-controller create-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, steps.RSCtrl
		say(i18n.K("anim.held_rs_create"), s.Name, why())
	case "replicaset-controller delete-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, steps.RSCtrl
		say(i18n.K("anim.held_rs_delete"), s.Name, why())
	case "statefulset-controller create-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, s.Component
		say(i18n.K("sets.held_sts_create"), podIn(s.Message), why())
	case "statefulset-controller scale-down", "statefulset-controller rolling-update", "statefulset-controller recreate-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, s.Component
		say(i18n.K("sets.held_sts_delete"), s.Name, why())
	case "daemonset-controller create-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, s.Component
		say(i18n.K("sets.held_ds_create"), s.Name, s.Node, why())
	case "daemonset-controller delete-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, s.Component
		say(i18n.K("sets.held_ds_delete"), s.Name, why())
	case "job-controller create-pod", "job-controller delete-pod":
		h.Flow, h.N, h.From = steps.FlowJob, 2, steps.JobCtrl
		say(i18n.K("anim.held_said"), says(s.Message), why())
	case "cronjob-controller create-job", "cronjob-controller delete-job":
		h.Flow, h.N, h.From = steps.FlowCronJob, map[string]int{"create-job": 1, "delete-job": 2}[s.Action], steps.CronJobCtrl
		say(i18n.K("anim.held_said"), says(s.Message), why())
	case "garbage-collector delete-dependent":
		h.Flow, h.N, h.From = steps.FlowGC, 2, steps.GC
		say(i18n.K("anim.held_gc"), s.Kind, s.Name)
	case "deployment-controller scale-replicaset":
		h.Flow, h.N, h.From = steps.FlowDeployment, 2, steps.DeployCtrl
		say(i18n.K("anim.held_said"), says(s.Message), "")
	case "kubelet/" + node + " see-pod":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 3, steps.APIServer, steps.Kubelet(node), steps.Watch
		say(i18n.K("anim.held_kubelet_see"), node, s.Name)
	case "kubelet/" + node + " create-containers":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 4, steps.Kubelet(node), steps.Containerd(node), steps.CRI
		say(i18n.K("anim.held_create"), node, s.Name)
	case "kubelet/" + node + " report-status":
		h.Flow, h.N, h.From = steps.FlowPod, 5, steps.Kubelet(node)
		say(i18n.K("anim.held_report"), node, s.Name)
	case "kubelet/" + node + " delete-pod":
		h.Flow, h.N, h.From = steps.FlowDelete, 4, steps.Kubelet(node)
		say(i18n.K("anim.held_delete"), node, s.Name)
	default:
		h.From = s.Component
		if strings.HasPrefix(s.Component, "endpoints") {
			h.Flow, h.N, h.From = steps.FlowEndpoints, 3, steps.EPCtrl
		}
		if s.Says.Key != "" {
			say(i18n.K("anim.held_said"), s.Says, why())
		} else {
			say(i18n.K("anim.held_other"), strings.ReplaceAll(s.Component, "-", " "), s.Message)
		}
	}
	return h
}

// decisionView is the scheduler's decision as the bind step shows it.
func decisionView(d scheduler.Decision) *templates.DecisionView {
	v := &templates.DecisionView{Chosen: d.Chosen, Message: d.Message, Why: d.Because()}
	for _, n := range d.Nodes {
		r := templates.NodeDecision{Node: n.Node, Feasible: n.Feasible, Reasons: n.Reasons, Score: n.Score, Chosen: n.Node == d.Chosen}
		for plugin, sc := range n.Scores {
			r.Scores = append(r.Scores, fmt.Sprintf("%s %d", plugin, sc))
		}
		sortStrings(r.Scores)
		v.Nodes = append(v.Nodes, r)
	}
	return v
}

// podIn is the pod a StatefulSet's "creating pod <name> for …" message names.
func podIn(message string) string {
	rest, _ := strings.CutPrefix(message, "creating pod ")
	name, _, _ := strings.Cut(rest, " ")
	return name
}
