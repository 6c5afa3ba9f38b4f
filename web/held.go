package web

import (
	"fmt"
	"strings"

	"webkube/cluster/scheduler"
	"webkube/cluster/stepper"
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
	why := func(def string) string {
		if s.Why != "" {
			return ": " + s.Why
		}
		return def
	}
	node := strings.TrimPrefix(s.Component, "kubelet/")
	switch s.Component + " " + s.Action {
	case "scheduler see-unassigned-pod":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 1, steps.APIServer, steps.Scheduler, steps.Watch
		h.Sentence = fmt.Sprintf("The scheduler will take pod %s from its watch: it has no node yet.", s.Name)
	case "scheduler bind":
		h.Flow, h.N, h.From = steps.FlowPod, 2, steps.Scheduler
		h.Sentence = fmt.Sprintf("The scheduler will bind %s to %s%s.", s.Name, s.Node, why(""))
	case "replicaset-controller see-diff":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowReplicaSet, 1, steps.APIServer, steps.RSCtrl, steps.Watch
		h.Sentence = fmt.Sprintf("The ReplicaSet controller will act on %s: %s.", s.Name, strings.TrimPrefix(s.Message, "ReplicaSet "+s.Name+" "))
	case "replicaset-controller create-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, steps.RSCtrl
		h.Sentence = fmt.Sprintf("The ReplicaSet controller will create a pod for %s%s.", s.Name, why(""))
	case "replicaset-controller delete-pod":
		h.Flow, h.N, h.From = steps.FlowReplicaSet, 2, steps.RSCtrl
		h.Sentence = fmt.Sprintf("The ReplicaSet controller will delete pod %s%s.", s.Name, why(""))
	case "garbage-collector delete-dependent":
		h.Flow, h.N, h.From = steps.FlowGC, 2, steps.GC
		h.Sentence = fmt.Sprintf("The garbage collector will delete %s %s: its owner is gone.", s.Kind, s.Name)
	case "deployment-controller scale-replicaset":
		h.Flow, h.N, h.From = steps.FlowDeployment, 2, steps.DeployCtrl
		h.Sentence = "The deployment controller will be " + s.Message + "."
	case "kubelet/" + node + " see-pod":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 3, steps.APIServer, steps.Kubelet(node), steps.Watch
		h.Sentence = fmt.Sprintf("The kubelet on %s will take pod %s: it is bound to its node.", node, s.Name)
	case "kubelet/" + node + " create-containers":
		h.Flow, h.N, h.From, h.To, h.Style = steps.FlowPod, 4, steps.Kubelet(node), steps.Containerd(node), steps.CRI
		h.Sentence = fmt.Sprintf("The kubelet on %s will have containerd pull the image and start the containers of %s.", node, s.Name)
	case "kubelet/" + node + " report-status":
		h.Flow, h.N, h.From = steps.FlowPod, 5, steps.Kubelet(node)
		h.Sentence = fmt.Sprintf("The kubelet on %s will report %s's status to the API server.", node, s.Name)
	case "kubelet/" + node + " delete-pod":
		h.Flow, h.N, h.From = steps.FlowDelete, 4, steps.Kubelet(node)
		h.Sentence = fmt.Sprintf("The kubelet on %s will confirm %s's containers have stopped, so the API server removes it.", node, s.Name)
	default:
		h.From = s.Component
		if strings.HasPrefix(s.Component, "endpoints") {
			h.Flow, h.N, h.From = steps.FlowEndpoints, 3, steps.EPCtrl
		}
		h.Sentence = fmt.Sprintf("The %s will write: %s.", strings.ReplaceAll(s.Component, "-", " "), s.Message)
	}
	return h
}

// decisionView is the scheduler's decision as the bind step shows it.
func decisionView(d scheduler.Decision) *templates.DecisionView {
	v := &templates.DecisionView{Chosen: d.Chosen, Message: d.Message}
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
