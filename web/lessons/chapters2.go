package lessons

import (
	"context"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"webkube/web/examples"
	"webkube/web/i18n"
)

var deploySelector = map[string]string{"app": "echo", "tier": "app"}

func echoDeployment(tag string) string {
	return strings.Replace(examples.Get("echo-deployment"), "ghcr.io/subicura/echo:v1", "ghcr.io/subicura/echo:"+tag, 1)
}

// deploySettled: the Deployment's status has caught up with its spec, every wanted pod is
// updated and available, and every pod it selects runs image.
func deploySettled(s State, name, image string) (*appsv1.Deployment, bool) {
	d := deploy(s, name)
	if d == nil || d.Spec.Replicas == nil || d.Status.ObservedGeneration < d.Generation {
		return d, false
	}
	want := *d.Spec.Replicas
	if d.Status.UpdatedReplicas != want || d.Status.AvailableReplicas != want || d.Status.Replicas != want {
		return d, false
	}
	ps := matching(s, deploySelector)
	if int32(len(ps)) != want || !allRunning(ps) {
		return d, false
	}
	for _, p := range ps {
		if len(p.Spec.Containers) == 0 || p.Spec.Containers[0].Image != image {
			return d, false
		}
	}
	return d, true
}

func revision(d *appsv1.Deployment) string {
	if d == nil {
		return ""
	}
	return d.Annotations["deployment.kubernetes.io/revision"]
}

// deployLesson is chapter 3: a Deployment updates pods through ReplicaSets and keeps history.
func deployLesson() *Lesson {
	return &Lesson{ID: "deployment", Title: i18n.K("lesson.deploy.title"), Intro: i18n.K("lesson.deploy.intro"),
		Objects: []string{"deployment/echo-deploy"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.deploy.apply.title"), Explain: i18n.K("lesson.deploy.apply.explain"),
			Command: fixed("kubectl apply -f echo-deployment.yml"),
			Do:      apply(echoDeployment("v1")),
			Check: func(s State) bool {
				_, ok := deploySettled(s, "echo-deploy", "ghcr.io/subicura/echo:v1")
				return ok
			},
			Story: obj("deployment/default/echo-deploy"),
		}, {
			ID: "update", Title: i18n.K("lesson.deploy.update.title"), Explain: i18n.K("lesson.deploy.update.explain"),
			Command: fixed("kubectl set image deployment/echo-deploy echo=ghcr.io/subicura/echo:v2"),
			Do:      apply(echoDeployment("v2")),
			Check: func(s State) bool {
				d, ok := deploySettled(s, "echo-deploy", "ghcr.io/subicura/echo:v2")
				return ok && revision(d) == "2"
			},
			Story: obj("deployment/default/echo-deploy"),
		}, {
			ID: "undo", Title: i18n.K("lesson.deploy.undo.title"), Explain: i18n.K("lesson.deploy.undo.explain"),
			Command: fixed("kubectl rollout undo deployment/echo-deploy"),
			Do:      apply(echoDeployment("v1")),
			Check: func(s State) bool {
				d, ok := deploySettled(s, "echo-deploy", "ghcr.io/subicura/echo:v1")
				return ok && revision(d) == "3"
			},
			Story: obj("deployment/default/echo-deploy"),
		}, {
			ID: "delete", Title: i18n.K("lesson.deploy.delete.title"), Explain: i18n.K("lesson.deploy.delete.explain"),
			Command: fixed("kubectl delete deployment/echo-deploy"),
			Do:      del("deployment", "echo-deploy"),
			Check: func(s State) bool {
				return deploy(s, "echo-deploy") == nil && len(matching(s, deploySelector)) == 0
			},
		}},
	}
}

// readyEndpoints counts the ready addresses of the Service's Endpoints.
func readyEndpoints(s State, name string) int {
	ep := s.Endpoints(Namespace, name)
	if ep == nil {
		return 0
	}
	n := 0
	for _, ss := range ep.Subsets {
		n += len(ss.Addresses)
	}
	return n
}

func service(s State, name string) bool {
	for _, sv := range s.Services(Namespace) {
		if sv.Name == name && sv.Spec.ClusterIP != "" {
			return true
		}
	}
	return false
}

// serviceLesson is chapter 4: a Service gives the pods its selector picks one address.
func serviceLesson() *Lesson {
	return &Lesson{ID: "service", Title: i18n.K("lesson.svc.title"), Intro: i18n.K("lesson.svc.intro"),
		Objects: []string{"service/redis", "deployment/redis"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.svc.apply.title"), Explain: i18n.K("lesson.svc.apply.explain"),
			Command: fixed("kubectl apply -f counter-service.yml"),
			Do:      apply(examples.Get("counter-service")),
			Check:   func(s State) bool { return service(s, "redis") && readyEndpoints(s, "redis") == 1 },
			Story:   obj("service/default/redis"),
		}, {
			ID: "scale", Title: i18n.K("lesson.svc.scale.title"), Explain: i18n.K("lesson.svc.scale.explain"),
			Command: fixed("kubectl scale deployment/redis --replicas=2"),
			Do: func(ctx context.Context, a Actions, _ State) error {
				return a.Scale(ctx, "deployment", Namespace, "redis", 2)
			},
			Check: func(s State) bool { return service(s, "redis") && readyEndpoints(s, "redis") == 2 },
			Story: obj("service/default/redis"),
		}, {
			ID: "delete", Title: i18n.K("lesson.svc.delete.title"), Explain: i18n.K("lesson.svc.delete.explain"),
			Command: fixed("kubectl delete -f counter-service.yml"),
			Do: func(ctx context.Context, a Actions, _ State) error {
				if err := a.Delete(ctx, "service", Namespace, "redis"); err != nil {
					return err
				}
				return a.Delete(ctx, "deployment", Namespace, "redis")
			},
			Check: func(s State) bool {
				return !service(s, "redis") && deploy(s, "redis") == nil && len(matching(s, map[string]string{"app": "counter", "tier": "db"})) == 0
			},
		}},
	}
}
