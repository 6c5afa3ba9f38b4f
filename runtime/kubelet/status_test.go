package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"

	"webkube/runtime/cni"
	"webkube/runtime/containers"
)

func TestShouldRestart(t *testing.T) {
	ok := &containers.Status{ExitCode: 0}
	bad := &containers.Status{ExitCode: 3}
	for _, tc := range []struct {
		policy corev1.RestartPolicy
		s      *containers.Status
		init   bool
		want   bool
	}{
		{corev1.RestartPolicyAlways, ok, false, true},
		{corev1.RestartPolicyAlways, bad, false, true},
		{corev1.RestartPolicyAlways, ok, true, false}, // a finished init container stays finished
		{corev1.RestartPolicyAlways, bad, true, true},
		{corev1.RestartPolicyOnFailure, ok, false, false},
		{corev1.RestartPolicyOnFailure, bad, false, true},
		{corev1.RestartPolicyNever, bad, false, false},
		{corev1.RestartPolicyNever, bad, true, false},
	} {
		if got := shouldRestart(tc.policy, tc.s, tc.init); got != tc.want {
			t.Errorf("shouldRestart(%s, exit %d, init %v) = %v, want %v", tc.policy, tc.s.ExitCode, tc.init, got, tc.want)
		}
	}
}

func testPod(policy corev1.RestartPolicy, names ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"},
		Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "busybox"})
	}
	return p
}

func testState() *podState {
	return &podState{uid: "u1", network: &cni.Network{IP: "10.244.1.9"}, backoff: map[string]*backoff{},
		pullBackoff: map[string]*backoff{}, waiting: map[string]corev1.ContainerStateWaiting{}, probes: map[string]*probeSet{}}
}

func running(name string, restarts int) containers.Status {
	return containers.Status{ID: name + "-" + string(rune('0'+restarts)), Name: name, RestartCount: restarts,
		State: containers.StateRunning, StartedAt: time.Unix(100, 0)}
}

func exited(name string, restarts int, code int32, reason string) containers.Status {
	return containers.Status{ID: name + "-" + string(rune('0'+restarts)), Name: name, RestartCount: restarts,
		State: containers.StateExited, ExitCode: code, Reason: reason, StartedAt: time.Unix(100, 0), FinishedAt: time.Unix(110, 0)}
}

func cond(s corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// The pod status follows the kubelet's rules for phase, readiness and container states.
func TestComputeStatus(t *testing.T) {
	k := &Kubelet{cfg: Config{Clock: clocktesting.NewFakeClock(time.Unix(200, 0))}}

	t.Run("Running", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app", "db")
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{running("app", 0), running("db", 0)}))
		if s.Phase != corev1.PodRunning || cond(s, corev1.PodReady) != corev1.ConditionTrue || s.PodIP != "10.244.1.9" {
			t.Fatalf("phase %s ready %s ip %s", s.Phase, cond(s, corev1.PodReady), s.PodIP)
		}
	})
	t.Run("ContainerCreating", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		s := k.computeStatus(pod, testState(), groupInstances(nil))
		if s.Phase != corev1.PodPending || s.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
			t.Fatalf("phase %s state %+v", s.Phase, s.ContainerStatuses[0].State)
		}
	})
	t.Run("CrashLoopBackOff", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		st := testState()
		st.waiting["app"] = corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}
		s := k.computeStatus(pod, st, groupInstances([]containers.Status{exited("app", 1, 3, "Error"), exited("app", 0, 3, "Error")}))
		cs := s.ContainerStatuses[0]
		if s.Phase != corev1.PodRunning || cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" ||
			cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 || cs.Ready {
			t.Fatalf("phase %s status %+v", s.Phase, cs)
		}
	})
	t.Run("Succeeded", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyNever, "app")
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{exited("app", 0, 0, "Completed")}))
		if s.Phase != corev1.PodSucceeded || s.ContainerStatuses[0].State.Terminated.Reason != "Completed" {
			t.Fatalf("phase %s", s.Phase)
		}
	})
	t.Run("FailedOOM", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyNever, "app")
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{exited("app", 0, 137, "OOMKilled")}))
		if s.Phase != corev1.PodFailed || s.ContainerStatuses[0].State.Terminated.Reason != "OOMKilled" {
			t.Fatalf("phase %s", s.Phase)
		}
	})
	t.Run("OnFailureRestarting", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyOnFailure, "app")
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{exited("app", 0, 1, "Error")}))
		if s.Phase != corev1.PodRunning {
			t.Fatalf("phase %s, want Running (it will be restarted)", s.Phase)
		}
	})
	t.Run("InitPending", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{running("init", 0)}))
		if s.Phase != corev1.PodPending || cond(s, corev1.PodInitialized) != corev1.ConditionFalse {
			t.Fatalf("phase %s initialized %s", s.Phase, cond(s, corev1.PodInitialized))
		}
		s = k.computeStatus(pod, testState(), groupInstances([]containers.Status{exited("init", 0, 0, "Completed"), running("app", 0)}))
		if s.Phase != corev1.PodRunning || cond(s, corev1.PodInitialized) != corev1.ConditionTrue {
			t.Fatalf("after init: phase %s initialized %s", s.Phase, cond(s, corev1.PodInitialized))
		}
	})
	t.Run("NotReadyWithoutProbeWorkerYet", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{running("app", 0)}))
		if cond(s, corev1.PodReady) != corev1.ConditionFalse {
			t.Fatalf("ready before the readiness probe passed")
		}
	})
	t.Run("TransitionTimeKept", func(t *testing.T) {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		then := metav1.NewTime(time.Unix(50, 0))
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: then}}
		s := k.computeStatus(pod, testState(), groupInstances([]containers.Status{running("app", 0)}))
		for _, c := range s.Conditions {
			if c.Type == corev1.PodReady && !c.LastTransitionTime.Equal(&then) {
				t.Fatalf("Ready's lastTransitionTime moved without a transition: %v", c.LastTransitionTime)
			}
		}
	})
}

// groupInstances orders a container's instances newest first.
func TestGroupInstances(t *testing.T) {
	g := groupInstances([]containers.Status{exited("app", 0, 1, ""), exited("app", 2, 1, ""), running("db", 0), exited("app", 1, 1, "")})
	if got := g["app"]; len(got) != 3 || got[0].RestartCount != 2 || got[1].RestartCount != 1 || got.previous().RestartCount != 1 {
		t.Fatalf("app instances %+v", got)
	}
	if g["db"].latest().State != containers.StateRunning || g["db"].previous() != nil {
		t.Fatalf("db instances %+v", g["db"])
	}
}

// A kubelet restarted while a container runs keeps it as ready as the API shows it for
// that same instance until a probe of its own fails; a new instance, or one reported
// unready, starts unready as always (issue 9 item 8: a restart blipped every Service).
func TestReadinessCarriedOverRestart(t *testing.T) {
	var fail atomic.Bool
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // the first probe is still running while the test reads the status
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	probe := &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.Parse(port)}}}

	// apiPod is the pod as the previous kubelet reported it: app-0 running, started and ready.
	apiPod := func(ready bool) *corev1.Pod {
		pod := testPod(corev1.RestartPolicyAlways, "app")
		pod.Spec.Containers[0].ReadinessProbe = probe.DeepCopy()
		started := true
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://app-0", Ready: ready,
			Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return pod
	}
	newKubelet := func() *Kubelet {
		return &Kubelet{cfg: Config{Clock: clocktesting.NewFakeClock(time.Unix(200, 0))}, rec: record.NewFakeRecorder(100),
			queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	}
	start := func(k *Kubelet, pod *corev1.Pod, inst containers.Status) (*podState, func() corev1.ConditionStatus) {
		st := testState()
		st.network.IP = "127.0.0.1"
		k.ensureProbes(context.Background(), pod, st, &pod.Spec.Containers[0], &inst)
		t.Cleanup(func() { k.stopProbes(st) })
		return st, func() corev1.ConditionStatus {
			return cond(k.computeStatus(pod, st, groupInstances([]containers.Status{inst})), corev1.PodReady)
		}
	}

	t.Run("SameInstanceStaysReady", func(t *testing.T) {
		k := newKubelet()
		_, ready := start(k, apiPod(true), running("app", 0))
		if got := ready(); got != corev1.ConditionTrue {
			t.Fatalf("Ready %s before any probe ran, want True as reported before the restart", got)
		}
	})
	t.Run("StartedNeedsNoStartupProbeAgain", func(t *testing.T) {
		k := newKubelet()
		pod := apiPod(true)
		pod.Spec.Containers[0].StartupProbe = probe.DeepCopy()
		_, ready := start(k, pod, running("app", 0))
		if got := ready(); got != corev1.ConditionTrue {
			t.Fatalf("Ready %s: a started container waits for its startup probe again", got)
		}
	})
	t.Run("NewInstanceStartsUnready", func(t *testing.T) {
		k := newKubelet()
		_, ready := start(k, apiPod(true), running("app", 1)) // app-1: not what the API shows
		if got := ready(); got != corev1.ConditionFalse {
			t.Fatalf("Ready %s for a new container instance before its probe, want False", got)
		}
	})
	t.Run("ReportedUnreadyStaysUnready", func(t *testing.T) {
		k := newKubelet()
		_, ready := start(k, apiPod(false), running("app", 0))
		if got := ready(); got != corev1.ConditionFalse {
			t.Fatalf("Ready %s, want False as reported", got)
		}
	})
	t.Run("FailingProbeStillCounts", func(t *testing.T) {
		k := newKubelet()
		fail.Store(true)
		_, ready := start(k, apiPod(true), running("app", 0))
		if got := ready(); got != corev1.ConditionTrue {
			t.Fatalf("Ready %s before the probe answered", got)
		}
		close(release)
		deadline := time.Now().Add(5 * time.Second)
		for ready() != corev1.ConditionFalse {
			if time.Now().After(deadline) {
				t.Fatalf("still Ready 5 s after its probe failed")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// A container that exited before its start time was recorded (CI saw restartCount race to 4
// within 40 s: the zero start made every exit look like a ten-minute run) must not reset its
// back-off.
func TestRanLong(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		s       containers.Status
		ranLong bool
	}{
		{"no start recorded", containers.Status{FinishedAt: now}, false},
		{"exited at once", containers.Status{StartedAt: now, FinishedAt: now.Add(time.Millisecond)}, false},
		{"ran 10 minutes", containers.Status{StartedAt: now, FinishedAt: now.Add(backoffReset)}, true},
	} {
		if got := ranLong(&tc.s); got != tc.ranLong {
			t.Errorf("%s: ranLong = %v, want %v", tc.name, got, tc.ranLong)
		}
	}
}
