// Package diagram is the dashboard's picture of the control plane: the learner's client,
// the API server with its SQLite store, the scheduler, the controller manager's
// controllers, and each node's kubelet and containerd. The page's diagram.js draws it in
// SVG and animates every step as an arrow between two of these boxes, with pods as tokens.
package diagram

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"webkube/web/i18n"
)

// Token is one pod on the diagram.
type Token struct {
	Namespace string `json:"ns"`
	Name      string `json:"name"`
	Node      string `json:"node"`
	Phase     string `json:"phase"`
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// labels are the diagram's own words in the page's language; component names stay the
// Kubernetes ones.
func labels(ctx context.Context) map[string]string {
	return map[string]string{
		"client":     i18n.T(ctx, "anim.dg_client"),
		"ctrlmgr":    i18n.T(ctx, "anim.dg_ctrlmgr"),
		"pool":       i18n.T(ctx, "anim.dg_pool"),
		"nonodes":    i18n.T(ctx, "anim.dg_nonodes"),
		"group":      i18n.T(ctx, "page.group_nodes"), // "+%d nodes": diagram.js says how many
		"grouptitle": i18n.T(ctx, "page.group_title"),
		"you":        i18n.T(ctx, "anim.dg_you"),
		"queued":     i18n.T(ctx, "anim.dg_queued"),
		"replay":     i18n.T(ctx, "anim.dg_replay"),
		"steps":      i18n.T(ctx, "anim.dg_steps"),
		"step":       i18n.T(ctx, "anim.dg_step"),
		"next":       i18n.T(ctx, "anim.next"),
	}
}

// Controller is one controller's box in the controller manager: its component name (as
// steps and held actions name it) and its label.
type Controller struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Controllers are the controller manager's boxes, in the order drawn. Every controller
// that announces steps (a held action, a derived step's arrow end) has one, so each of
// its steps draws an arrow.
var Controllers = []Controller{
	{"replicaset-controller", "ReplicaSet"},
	{"deployment-controller", "Deployment"},
	{"garbage-collector", "garbage collector"},
	{"endpoints-controller", "endpoints"},
	{"statefulset-controller", "StatefulSet"},
	{"daemonset-controller", "DaemonSet"},
	{"job-controller", "Job"},
	{"cronjob-controller", "CronJob"},
	{"serviceaccount-controller", "ServiceAccount"},
	{"persistentvolume-controller", "PersistentVolume"},
	{"resourcequota-controller", "ResourceQuota"},
	{"disruption-controller", "PDB"},
	{"horizontal-pod-autoscaler", "HPA"},
}

// Components are the boxes drawn apart from the controller manager: components of their
// own, in Kubernetes and in webkube. The ingress controller is not one of
// kube-controller-manager's controllers (a cluster runs one as its own Deployment) and
// webkube starts it on its own (cluster/ingress, with its own client and proxy).
var Components = []Controller{
	{"ingress-controller", "ingress controller"},
}

// HasBox says whether the diagram draws a box for the component: the learner's client,
// the API server, the scheduler, each controller, each component of its own, and each
// node's kubelet and containerd.
func HasBox(component string) bool {
	switch component {
	case "client", "apiserver", "scheduler":
		return true
	}
	for _, c := range slices.Concat(Controllers, Components) {
		if c.ID == component {
			return true
		}
	}
	node, ok := strings.CutPrefix(component, "kubelet/")
	if !ok {
		node, ok = strings.CutPrefix(component, "containerd/")
	}
	return ok && node != ""
}
