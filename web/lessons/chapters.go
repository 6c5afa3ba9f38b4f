package lessons

import (
	"context"
	"strings"

	"webkube/web/i18n"
)

// runEcho is what `kubectl run echo --image ghcr.io/subicura/echo:v1` creates.
const runEcho = `apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    run: echo
spec:
  containers:
    - name: echo
      image: ghcr.io/subicura/echo:v1
`

var rsSelector = map[string]string{"app": "echo", "tier": "app"}

func fixed(lines ...string) func(State) string {
	cmd := strings.Join(lines, "\n")
	return func(State) string { return cmd }
}

func obj(ref string) func(State) string { return func(State) string { return ref } }

func apply(yaml string) func(context.Context, Actions, State) error {
	return func(ctx context.Context, a Actions, _ State) error { return a.Apply(ctx, yaml) }
}

// applyFiles applies the named files, as kubectl apply -f does.
func applyFiles(names ...string) func(context.Context, Actions, State) error {
	return func(ctx context.Context, a Actions, _ State) error {
		for _, n := range names {
			if err := a.Apply(ctx, file(n).YAML); err != nil {
				return err
			}
		}
		return nil
	}
}

func del(refs ...string) func(context.Context, Actions, State) error {
	return func(ctx context.Context, a Actions, _ State) error {
		for _, r := range refs {
			kind, name, _ := cut(r)
			if err := a.Delete(ctx, kind, Namespace, name); err != nil {
				return err
			}
		}
		return nil
	}
}

func execIn(pod, container string, cmd ...string) func(context.Context, Actions, State) error {
	return func(ctx context.Context, a Actions, _ State) error {
		return a.Exec(ctx, Namespace, pod, container, cmd)
	}
}

var all = []*Lesson{podLesson(), probesLesson(), multiLesson(), rsLesson(), scaleLesson(), deployLesson(), serviceLesson()}

// podLesson is chapter 1 of the notes: kubectl run, apply -f, get, logs, exec, delete.
func podLesson() *Lesson {
	return &Lesson{ID: "pod", Title: i18n.K("lesson.pod.title"), Intro: i18n.K("lesson.pod.intro"),
		Objects: []string{"pod/echo"},
		Steps: []Step{{
			ID: "run", Title: i18n.K("lesson.pod.run.title"), Explain: i18n.K("lesson.pod.run.explain"),
			Command: fixed("kubectl run echo --image ghcr.io/subicura/echo:v1"),
			Do:      apply(runEcho),
			Check:   func(s State) bool { p := pod(s, "echo"); return running(p) && p.Labels["run"] == "echo" },
			Story:   obj("pod/default/echo"),
		}, {
			ID: "delete-run", Title: i18n.K("lesson.pod.delete_run.title"), Explain: i18n.K("lesson.pod.delete_run.explain"),
			Command: fixed("kubectl delete pod echo"),
			Do:      del("pod/echo"),
			Check:   func(s State) bool { return gone(s, "echo") },
			Story:   obj("pod/default/echo"),
		}, {
			ID: "apply", Title: i18n.K("lesson.pod.apply.title"), Explain: i18n.K("lesson.pod.apply.explain"),
			Command: fixed("kubectl apply -f echo-pod.yml", "kubectl get pod"),
			Files:   files("echo-pod.yml", "echo-pod-typo.yml"),
			Do:      applyFiles("echo-pod.yml"),
			Check:   func(s State) bool { p := pod(s, "echo"); return running(p) && p.Labels["app"] == "echo" },
			Story:   obj("pod/default/echo"),
		}, {
			ID: "logs", Title: i18n.K("lesson.pod.logs.title"), Explain: i18n.K("lesson.pod.logs.explain"),
			Command: fixed("kubectl logs echo", "kubectl logs -f echo", "kubectl exec echo -- wget -qO- localhost:3000/hello"),
			Do:      execIn("echo", "app", "wget", "-qO-", "localhost:3000/hello"),
			Check: func(s State) bool {
				return running(pod(s, "echo")) && strings.Contains(s.Logs(Namespace, "echo", "app"), "GET /hello")
			},
			Story: obj("pod/default/echo"),
		}, {
			ID: "exec", Title: i18n.K("lesson.pod.exec.title"), Explain: i18n.K("lesson.pod.exec.explain"),
			Command: fixed("kubectl exec -it echo -- sh", "# ls", "# ps", "# touch /tmp/hello", "# exit"),
			Do:      execIn("echo", "app", "touch", "/tmp/hello"),
			Check: func(s State) bool {
				_, ok := s.Exec(Namespace, "echo", "app", "test", "-f", "/tmp/hello")
				return running(pod(s, "echo")) && ok
			},
			Story: obj("pod/default/echo"),
		}, {
			ID: "delete", Title: i18n.K("lesson.pod.delete.title"), Explain: i18n.K("lesson.pod.delete.explain"),
			Command: fixed("kubectl delete -f echo-pod.yml"),
			Do:      del("pod/echo"),
			Check:   func(s State) bool { return gone(s, "echo") },
			Story:   obj("pod/default/echo"),
		}},
	}
}

// rsLesson is chapter 2: selector, replicas, template; a label removed, put back; cascade.
func rsLesson() *Lesson {
	return &Lesson{ID: "replicaset", Title: i18n.K("lesson.rs.title"), Intro: i18n.K("lesson.rs.intro"),
		Objects: []string{"replicaset/echo-rs"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.rs.apply.title"), Explain: i18n.K("lesson.rs.apply.explain"),
			Command: fixed("kubectl apply -f echo-rs.yml", "kubectl get po,rs"),
			Files:   files("echo-rs.yml"),
			Do:      applyFiles("echo-rs.yml"),
			Check:   func(s State) bool { return rsSettled(s, "echo-rs", rsSelector, 1) },
			Story:   obj("replicaset/default/echo-rs"),
		}, {
			ID: "unlabel", Title: i18n.K("lesson.rs.unlabel.title"), Explain: i18n.K("lesson.rs.unlabel.explain"),
			Command: func(s State) string {
				return "kubectl label pod/" + rsPodName(s) + " app-\nkubectl get pod --show-labels"
			},
			Do: func(ctx context.Context, a Actions, s State) error {
				return a.Label(ctx, Namespace, rsPodName(s), map[string]*string{"app": nil})
			},
			Check: func(s State) bool { return orphan(s, "app") != nil && rsSettled(s, "echo-rs", rsSelector, 1) },
			Story: obj("replicaset/default/echo-rs"),
		}, {
			ID: "relabel", Title: i18n.K("lesson.rs.relabel.title"), Explain: i18n.K("lesson.rs.relabel.explain"),
			Command: func(s State) string { return "kubectl label pod/" + orphanName(s) + " app=echo" },
			Do: func(ctx context.Context, a Actions, s State) error {
				v := "echo"
				return a.Label(ctx, Namespace, orphanName(s), map[string]*string{"app": &v})
			},
			Check: func(s State) bool { return orphan(s, "app") == nil && rsSettled(s, "echo-rs", rsSelector, 1) },
			Story: obj("replicaset/default/echo-rs"),
		}, {
			ID: "delete", Title: i18n.K("lesson.rs.delete.title"), Explain: i18n.K("lesson.rs.delete.explain"),
			Command: fixed("kubectl delete replicaset.apps/echo-rs"),
			Do:      del("replicaset/echo-rs"),
			Check:   rsGone,
			Story:   obj("replicaset/default/echo-rs"),
		}},
	}
}

func rsGone(s State) bool {
	return rs(s, "echo-rs") == nil && len(matching(s, map[string]string{"tier": "app", "app": "echo"})) == 0
}

// scaleLesson is "스케일 아웃": the same ReplicaSet asked for 4.
func scaleLesson() *Lesson {
	return &Lesson{ID: "scale", Title: i18n.K("lesson.scale.title"), Intro: i18n.K("lesson.scale.intro"),
		Objects: []string{"replicaset/echo-rs"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.rs.apply.title"), Explain: i18n.K("lesson.rs.apply.explain"),
			Command: fixed("kubectl apply -f echo-rs.yml"),
			Files:   files("echo-rs.yml"),
			Do:      applyFiles("echo-rs.yml"),
			Check:   func(s State) bool { r := rs(s, "echo-rs"); return r != nil && r.Status.ReadyReplicas >= 1 },
			Story:   obj("replicaset/default/echo-rs"),
		}, {
			ID: "scale", Title: i18n.K("lesson.scale.scale.title"), Explain: i18n.K("lesson.scale.scale.explain"),
			Command: fixed("kubectl apply -f echo-rs-scaled.yml", "kubectl get pod,rs"),
			Files:   files("echo-rs-scaled.yml"),
			Do:      applyFiles("echo-rs-scaled.yml"),
			Check:   func(s State) bool { return rsSettled(s, "echo-rs", rsSelector, 4) },
			Story:   obj("replicaset/default/echo-rs"),
		}, {
			ID: "delete", Title: i18n.K("lesson.rs.delete.title"), Explain: i18n.K("lesson.rs.delete.explain"),
			Command: fixed("kubectl delete replicaset.apps/echo-rs"),
			Do:      del("replicaset/echo-rs"),
			Check:   rsGone,
			Story:   obj("replicaset/default/echo-rs"),
		}},
	}
}

// rsPodName is a pod of echo-rs to take the label from (the oldest, as kubectl get lists
// them by name), or a placeholder while there is none.
func rsPodName(s State) string {
	ps := matching(s, rsSelector)
	if len(ps) == 0 {
		return "<pod>"
	}
	name := ps[0].Name
	for _, p := range ps[1:] {
		if p.Name < name {
			name = p.Name
		}
	}
	return name
}

func orphanName(s State) string {
	if p := orphan(s, "app"); p != nil {
		return p.Name
	}
	return "<pod>"
}
