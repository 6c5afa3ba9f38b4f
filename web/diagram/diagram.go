// Package diagram is the dashboard's picture of the control plane: the learner's client,
// the API server with its SQLite store, the scheduler, the controller manager's
// controllers, and each node's kubelet and containerd. The page's diagram.js draws it in
// SVG and animates every step as an arrow between two of these boxes, with pods as tokens.
package diagram

import "encoding/json"

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
