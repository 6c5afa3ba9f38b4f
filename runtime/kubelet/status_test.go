package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
