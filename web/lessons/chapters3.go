package lessons

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"webkube/internal/podstatus"
	"webkube/web/i18n"
)

// unhealthy is the built-in echo image's switch: from this request on it answers 503, so
// an httpGet probe really fails (the dashboard's "Make probe fail" uses it too).
var unhealthy = []string{"wget", "-qO-", "localhost:3000/_webkube/unhealthy"}

func restarts(p *corev1.Pod) int32 {
	if p == nil {
		return 0
	}
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// notReadyEndpoints counts the Service's addresses left out because their pod is not ready.
func notReadyEndpoints(s State, name string) int {
	ep := s.Endpoints(Namespace, name)
	if ep == nil {
		return 0
	}
	n := 0
	for _, ss := range ep.Subsets {
		n += len(ss.NotReadyAddresses)
	}
	return n
}

// unready: the pod runs, is not restarted, but is not Ready.
func unready(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || restarts(p) > 0 {
		return false
	}
	c := podstatus.ReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionFalse
}

// probesLesson is "컨테이너 상태 모니터링": a failing livenessProbe restarts the container,
// a failing readinessProbe takes the pod out of its Service.
func probesLesson() *Lesson {
	return &Lesson{ID: "probes", Title: i18n.K("lesson.probes.title"), Intro: i18n.K("lesson.probes.intro"),
		Objects: []string{"pod/echo-probe", "pod/echo-ready", "service/echo-ready"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.probes.apply.title"), Explain: i18n.K("lesson.probes.apply.explain"),
			Command: fixed("kubectl apply -f probe-pod.yml", "kubectl get pod echo-probe"),
			Files:   files("probe-pod.yml"),
			Do:      applyFiles("probe-pod.yml"),
			Check:   func(s State) bool { p := pod(s, "echo-probe"); return running(p) && restarts(p) == 0 },
			Story:   obj("pod/default/echo-probe"),
		}, {
			ID: "liveness", Title: i18n.K("lesson.probes.liveness.title"), Explain: i18n.K("lesson.probes.liveness.explain"),
			Command: fixed("kubectl exec echo-probe -- "+strings.Join(unhealthy, " "), "kubectl describe pod echo-probe"),
			Do:      execIn("echo-probe", "app", unhealthy...),
			Check:   func(s State) bool { p := pod(s, "echo-probe"); return running(p) && restarts(p) >= 1 },
			Story:   obj("pod/default/echo-probe"),
		}, {
			ID: "service", Title: i18n.K("lesson.probes.service.title"), Explain: i18n.K("lesson.probes.service.explain"),
			Command: fixed("kubectl apply -f echo-ready.yml", "kubectl get ep echo-ready"),
			Files:   files("echo-ready.yml"),
			Do:      applyFiles("echo-ready.yml"),
			Check: func(s State) bool {
				return running(pod(s, "echo-ready")) && service(s, "echo-ready") != nil && readyEndpoints(s, "echo-ready") == 1
			},
			Story: obj("service/default/echo-ready"),
		}, {
			ID: "readiness", Title: i18n.K("lesson.probes.readiness.title"), Explain: i18n.K("lesson.probes.readiness.explain"),
			Command: fixed("kubectl exec echo-ready -- "+strings.Join(unhealthy, " "), "kubectl get ep echo-ready"),
			Do:      execIn("echo-ready", "app", unhealthy...),
			Check: func(s State) bool {
				return unready(pod(s, "echo-ready")) && readyEndpoints(s, "echo-ready") == 0 && notReadyEndpoints(s, "echo-ready") == 1
			},
			Story: obj("service/default/echo-ready"),
		}, {
			ID: "delete", Title: i18n.K("lesson.probes.delete.title"), Explain: i18n.K("lesson.probes.delete.explain"),
			Command: fixed("kubectl delete -f probe-pod.yml -f echo-ready.yml"),
			Do:      del("pod/echo-probe", "pod/echo-ready", "service/echo-ready"),
			Check: func(s State) bool {
				return gone(s, "echo-probe") && gone(s, "echo-ready") && service(s, "echo-ready") == nil
			},
		}},
	}
}

// containersReady: the pod runs and every one of its want containers is ready.
func containersReady(p *corev1.Pod, want int) bool {
	if !running(p) || len(p.Status.ContainerStatuses) != want {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	return true
}

// multiLesson is "다중 컨테이너": the containers of a pod share localhost and can share a
// directory.
func multiLesson() *Lesson {
	return &Lesson{ID: "multi", Title: i18n.K("lesson.multi.title"), Intro: i18n.K("lesson.multi.intro"),
		Objects: []string{"pod/counter", "pod/shared"},
		Steps: []Step{{
			ID: "apply", Title: i18n.K("lesson.multi.apply.title"), Explain: i18n.K("lesson.multi.apply.explain"),
			Command: fixed("kubectl apply -f counter-pod.yml", "kubectl get pod counter"),
			Files:   files("counter-pod.yml"),
			Do:      applyFiles("counter-pod.yml"),
			Check:   func(s State) bool { return containersReady(pod(s, "counter"), 2) },
			Story:   obj("pod/default/counter"),
		}, {
			ID: "localhost", Title: i18n.K("lesson.multi.localhost.title"), Explain: i18n.K("lesson.multi.localhost.explain"),
			Command: fixed("kubectl exec counter -c app -- wget -qO- localhost:3000", "kubectl logs counter -c app"),
			Do:      execIn("counter", "app", "wget", "-qO-", "localhost:3000"),
			Check: func(s State) bool {
				return running(pod(s, "counter")) && strings.Contains(s.Logs(Namespace, "counter", "app"), ": count ")
			},
			Story: obj("pod/default/counter"),
		}, {
			ID: "shared", Title: i18n.K("lesson.multi.shared.title"), Explain: i18n.K("lesson.multi.shared.explain"),
			Command: fixed("kubectl apply -f shared-pod.yml", "kubectl get pod shared"),
			Files:   files("shared-pod.yml"),
			Do:      applyFiles("shared-pod.yml"),
			Check:   func(s State) bool { return containersReady(pod(s, "shared"), 2) },
			Story:   obj("pod/default/shared"),
		}, {
			ID: "write", Title: i18n.K("lesson.multi.write.title"), Explain: i18n.K("lesson.multi.write.explain"),
			Command: fixed(`kubectl exec shared -c writer -- sh -c "echo hello > /shared/hello"`, "kubectl exec shared -c reader -- cat /shared/hello"),
			Do:      execIn("shared", "writer", "sh", "-c", "echo hello > /shared/hello"),
			Check: func(s State) bool {
				out, ok := s.Exec(Namespace, "shared", "reader", "cat", "/shared/hello")
				return running(pod(s, "shared")) && ok && strings.TrimSpace(out) == "hello"
			},
			Story: obj("pod/default/shared"),
		}, {
			ID: "delete", Title: i18n.K("lesson.multi.delete.title"), Explain: i18n.K("lesson.multi.delete.explain"),
			Command: fixed("kubectl delete pod counter shared"),
			Do:      del("pod/counter", "pod/shared"),
			Check:   func(s State) bool { return gone(s, "counter") && gone(s, "shared") },
		}},
	}
}
