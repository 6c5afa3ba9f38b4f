package lessons

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// world is a cluster as the dashboard would see it, for the checks that the in-process
// tests (simulated nodes: no probes, logs or exec) cannot reach; the acceptance tests run
// them on real containers.
type world struct {
	pods  []*corev1.Pod
	svcs  []*corev1.Service
	eps   map[string]*corev1.Endpoints
	logs  map[string]string // pod/container -> output
	files map[string]string // pod/container/path -> content
}

func (w world) Pods(string) []*corev1.Pod               { return w.pods }
func (w world) ReplicaSets(string) []*appsv1.ReplicaSet { return nil }
func (w world) Deployments(string) []*appsv1.Deployment { return nil }
func (w world) Services(string) []*corev1.Service       { return w.svcs }
func (w world) Endpoints(_, name string) *corev1.Endpoints {
	return w.eps[name]
}
func (w world) Logs(_, pod, c string) string { return w.logs[pod+"/"+c] }

// Exec answers `test -f PATH` and `cat PATH` from files.
func (w world) Exec(_, pod, c string, cmd ...string) (string, bool) {
	path := cmd[len(cmd)-1]
	out, ok := w.files[pod+"/"+c+"/"+path]
	return out, ok
}

type podOpt func(*corev1.Pod)

func livePod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func containers(ready ...bool) podOpt {
	return func(p *corev1.Pod) {
		for i, r := range ready {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: string(rune('a' + i)), Ready: r})
		}
	}
}

func restarted(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "app", Ready: true, RestartCount: n})
	}
}

func svc(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9"}}
}

func eps(ready, notReady int) *corev1.Endpoints {
	ss := corev1.EndpointSubset{}
	for i := 0; i < ready; i++ {
		ss.Addresses = append(ss.Addresses, corev1.EndpointAddress{IP: "10.244.0.9"})
	}
	for i := 0; i < notReady; i++ {
		ss.NotReadyAddresses = append(ss.NotReadyAddresses, corev1.EndpointAddress{IP: "10.244.0.9"})
	}
	return &corev1.Endpoints{Subsets: []corev1.EndpointSubset{ss}}
}

// TestChecksFailUntilReached: each check passes on the state its step leads to and fails
// on the nearest state short of it (the action not yet done, or undone before the check).
func TestChecksFailUntilReached(t *testing.T) {
	echoUp := livePod("echo")
	cases := []struct {
		lesson, step, why string
		reached, short    world
	}{
		{"pod", "logs", "no request reached the pod yet",
			world{pods: []*corev1.Pod{echoUp}, logs: map[string]string{"echo/app": "echo server listening on [::]:3000\nGET /hello HTTP/1.1 from 127.0.0.1"}},
			world{pods: []*corev1.Pod{echoUp}, logs: map[string]string{"echo/app": "echo server listening on [::]:3000"}}},
		{"pod", "logs", "the pod is gone (its logs with it)",
			world{pods: []*corev1.Pod{echoUp}, logs: map[string]string{"echo/app": "GET /hello"}},
			world{logs: map[string]string{"echo/app": "GET /hello"}}},
		{"pod", "exec", "the file was not made",
			world{pods: []*corev1.Pod{echoUp}, files: map[string]string{"echo/app//tmp/hello": ""}},
			world{pods: []*corev1.Pod{echoUp}}},
		{"probes", "apply", "the readinessProbe has not passed yet",
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(0))}},
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(0), notReady)}}},
		{"probes", "liveness", "the livenessProbe has not failed: no restart",
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(1))}},
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(0))}}},
		{"probes", "liveness", "restarted but not ready again yet",
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(1))}},
			world{pods: []*corev1.Pod{livePod("echo-probe", restarted(1), notReady)}}},
		{"probes", "service", "the pod is not in the endpoints yet",
			world{pods: []*corev1.Pod{livePod("echo-ready")}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(1, 0)}},
			world{pods: []*corev1.Pod{livePod("echo-ready")}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(0, 1)}}},
		{"probes", "readiness", "the readinessProbe still passes",
			world{pods: []*corev1.Pod{livePod("echo-ready", notReady)}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(0, 1)}},
			world{pods: []*corev1.Pod{livePod("echo-ready")}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(1, 0)}}},
		{"probes", "readiness", "unready, but the endpoints controller has not moved it yet",
			world{pods: []*corev1.Pod{livePod("echo-ready", notReady)}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(0, 1)}},
			world{pods: []*corev1.Pod{livePod("echo-ready", notReady)}, svcs: []*corev1.Service{svc("echo-ready")}, eps: map[string]*corev1.Endpoints{"echo-ready": eps(1, 0)}}},
		{"probes", "delete", "echo-ready is still there",
			world{}, world{pods: []*corev1.Pod{livePod("echo-ready")}}},
		{"multi", "apply", "db is not ready yet",
			world{pods: []*corev1.Pod{livePod("counter", containers(true, true))}},
			world{pods: []*corev1.Pod{livePod("counter", containers(true, false))}}},
		{"multi", "localhost", "the counter was not visited (or redis was not reached)",
			world{pods: []*corev1.Pod{livePod("counter", containers(true, true))}, logs: map[string]string{"counter/app": "GET /: count 1"}},
			world{pods: []*corev1.Pod{livePod("counter", containers(true, true))}, logs: map[string]string{"counter/app": "GET /: redis at localhost:6379: connection refused"}}},
		{"multi", "shared", "one of its two containers is not ready yet",
			world{pods: []*corev1.Pod{livePod("shared", containers(true, true))}},
			world{pods: []*corev1.Pod{livePod("shared", containers(true, false))}}},
		{"multi", "write", "nothing was written to the shared directory",
			world{pods: []*corev1.Pod{livePod("shared")}, files: map[string]string{"shared/reader//shared/hello": "hello\n"}},
			world{pods: []*corev1.Pod{livePod("shared")}}},
		{"multi", "delete", "shared is still there",
			world{}, world{pods: []*corev1.Pod{livePod("shared")}}},
	}
	for _, c := range cases {
		l, _ := Find(c.lesson)
		var st *Step
		for i := range l.Steps {
			if l.Steps[i].ID == c.step {
				st = &l.Steps[i]
			}
		}
		if st == nil {
			t.Fatalf("no step %s/%s", c.lesson, c.step)
		}
		name := c.lesson + "/" + c.step + ": " + c.why
		if !st.Check(c.reached) {
			t.Errorf("%s: check fails on the reached state", name)
		}
		if st.Check(c.short) {
			t.Errorf("%s: check passes although %s", name, c.why)
		}
	}
}
