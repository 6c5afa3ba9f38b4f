package lessons

import (
	"context"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"webkube/web/i18n"
)

var deploySelector = map[string]string{"app": "echo", "tier": "app"}

// echoDeployment is echo-deployment.yml, with VERSION=version set in its container when
// version is not "" (what kubectl set env does; the built-in image has only echo:v1).
func echoDeployment(version string) string {
	y := file("echo-deployment.yml").YAML
	if version == "" {
		return y
	}
	const img = "          image: ghcr.io/subicura/echo:v1\n"
	return strings.Replace(y, img, img+"          env:\n            - name: VERSION\n              value: "+version+"\n", 1)
}

func envOf(p *corev1.Pod, name string) string {
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	for _, e := range p.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// deploySettled: the Deployment's status has caught up with its spec, every wanted pod is
// updated and available, and every pod it selects runs with VERSION=version.
func deploySettled(s State, name, version string) (*appsv1.Deployment, bool) {
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
		if envOf(p, "VERSION") != version {
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

func deployAt(version, rev string) func(State) bool {
	return func(s State) bool {
		d, ok := deploySettled(s, "echo-deploy", version)
		return ok && revision(d) == rev
	}
}

func rollback(to int64) func(context.Context, Actions, State) error {
	return func(ctx context.Context, a Actions, _ State) error {
		return a.Rollback(ctx, Namespace, "echo-deploy", to)
	}
}

// deployLesson is chapter 3: a Deployment updates pods through ReplicaSets, keeps their
// history, rolls back, and goes to a chosen revision.
func deployLesson() *Lesson {
	story := obj("deployment/default/echo-deploy")
	return &Lesson{ID: "deployment", Title: i18n.K("lesson.deploy.title"), Intro: i18n.K("lesson.deploy.intro"),
		Objects: []string{"deployment/echo-deploy"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.deploy.apply.title"), Explain: i18n.K("lesson.deploy.apply.explain"),
			Command: fixed("kubectl apply -f echo-deployment.yml", "kubectl get deploy,rs,po"),
			Files:   files("echo-deployment.yml"),
			Do:      apply(echoDeployment("")),
			Check:   deployAt("", "1"),
			Story:   story,
		}, {
			ID: "update", Title: i18n.K("lesson.deploy.update.title"), Explain: i18n.K("lesson.deploy.update.explain"),
			Command: fixed("kubectl set env deployment/echo-deploy VERSION=v2", "kubectl rollout status deployment/echo-deploy", "kubectl rollout history deployment/echo-deploy"),
			Do:      apply(echoDeployment("v2")),
			Check:   deployAt("v2", "2"),
			Story:   story,
		}, {
			ID: "undo", Title: i18n.K("lesson.deploy.undo.title"), Explain: i18n.K("lesson.deploy.undo.explain"),
			Command: fixed("kubectl rollout undo deployment/echo-deploy", "kubectl rollout status deployment/echo-deploy"),
			Do:      rollback(0),
			Check:   deployAt("", "3"),
			Story:   story,
		}, {
			ID: "revision", Title: i18n.K("lesson.deploy.revision.title"), Explain: i18n.K("lesson.deploy.revision.explain"),
			Command: fixed("kubectl rollout undo deployment/echo-deploy --to-revision=2", "kubectl rollout status deployment/echo-deploy", "kubectl rollout history deployment/echo-deploy"),
			Do:      rollback(2),
			Check:   deployAt("v2", "4"),
			Story:   story,
		}, {
			ID: "delete", Title: i18n.K("lesson.deploy.delete.title"), Explain: i18n.K("lesson.deploy.delete.explain"),
			Command: fixed("kubectl delete deployment/echo-deploy"),
			Do:      del("deployment/echo-deploy"),
			Check: func(s State) bool {
				return deploy(s, "echo-deploy") == nil && len(matching(s, deploySelector)) == 0
			},
			Story: story,
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

func service(s State, name string) *corev1.Service {
	for _, sv := range s.Services(Namespace) {
		if sv.Name == name && sv.Spec.ClusterIP != "" {
			return sv
		}
	}
	return nil
}

var counterApp = map[string]string{"app": "counter", "tier": "app"}

// counterReady: the counter Deployment has want pods, each Ready; their readiness probe
// goes through redis, found by its Service's DNS name.
func counterReady(s State, want int) bool {
	d := deploy(s, "counter")
	if d == nil || d.Status.ObservedGeneration < d.Generation || d.Status.ReadyReplicas != int32(want) {
		return false
	}
	ps := matching(s, counterApp)
	return len(ps) == want && allRunning(ps)
}

func nodePort(s State, name string) bool {
	sv := service(s, name)
	return sv != nil && sv.Spec.Type == corev1.ServiceTypeNodePort && len(sv.Spec.Ports) > 0 && sv.Spec.Ports[0].NodePort > 0
}

// serviceLesson is chapter 4: one address (a ClusterIP, a DNS name, a node port) for the
// pods a selector picks, balancing connections over them.
func serviceLesson() *Lesson {
	return &Lesson{ID: "service", Title: i18n.K("lesson.svc.title"), Intro: i18n.K("lesson.svc.intro"),
		Objects: []string{"service/counter-np", "deployment/counter", "service/redis", "deployment/redis"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.svc.apply.title"), Explain: i18n.K("lesson.svc.apply.explain"),
			Command: fixed("kubectl apply -f counter-service.yml", "kubectl get svc,ep redis"),
			Files:   files("counter-service.yml"),
			Do:      applyFiles("counter-service.yml"),
			Check:   func(s State) bool { return service(s, "redis") != nil && readyEndpoints(s, "redis") == 1 },
			Story:   obj("service/default/redis"),
		}, {
			ID: "dns", Title: i18n.K("lesson.svc.dns.title"), Explain: i18n.K("lesson.svc.dns.explain"),
			Command: fixed("kubectl apply -f counter-app.yml", "kubectl rollout status deployment/counter"),
			Files:   files("counter-app.yml"),
			Do:      applyFiles("counter-app.yml"),
			Check:   func(s State) bool { return counterReady(s, 2) },
			Story:   obj("deployment/default/counter"),
		}, {
			ID: "nodeport", Title: i18n.K("lesson.svc.nodeport.title"), Explain: i18n.K("lesson.svc.nodeport.explain"),
			Command: fixed("kubectl apply -f counter-np.yml", "kubectl get svc counter-np"),
			Files:   files("counter-np.yml"),
			Do:      applyFiles("counter-np.yml"),
			Check:   func(s State) bool { return nodePort(s, "counter-np") && readyEndpoints(s, "counter-np") == 2 },
			Story:   obj("service/default/counter-np"),
		}, {
			ID: "scale", Title: i18n.K("lesson.svc.scale.title"), Explain: i18n.K("lesson.svc.scale.explain"),
			Command: fixed("kubectl scale deployment/counter --replicas=3", "kubectl get ep counter-np"),
			Do: func(ctx context.Context, a Actions, _ State) error {
				return a.Scale(ctx, "deployment", Namespace, "counter", 3)
			},
			Check: func(s State) bool { return counterReady(s, 3) && readyEndpoints(s, "counter-np") == 3 },
			Story: obj("service/default/counter-np"),
		}, {
			ID: "delete", Title: i18n.K("lesson.svc.delete.title"), Explain: i18n.K("lesson.svc.delete.explain"),
			Command: fixed("kubectl delete -f counter-np.yml -f counter-app.yml -f counter-service.yml"),
			Do:      del("service/counter-np", "deployment/counter", "service/redis", "deployment/redis"),
			Check: func(s State) bool {
				return service(s, "redis") == nil && service(s, "counter-np") == nil && deploy(s, "redis") == nil &&
					deploy(s, "counter") == nil && len(matching(s, counterApp)) == 0 &&
					len(matching(s, map[string]string{"app": "counter", "tier": "db"})) == 0
			},
		}},
	}
}
