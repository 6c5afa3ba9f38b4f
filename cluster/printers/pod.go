package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeUnreachablePodReason is the pod status reason the node lifecycle controller sets
// on pods of a node that stopped reporting.
const NodeUnreachablePodReason = "NodeLost"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func podCells(pod *corev1.Pod, now time.Time) []interface{} {
	s := PodStatus(pod, now)
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	if podIP == "" {
		podIP = pod.Status.PodIP
	}
	readinessGates := "<none>"
	if len(pod.Spec.ReadinessGates) > 0 {
		trueConditions := 0
		for _, gate := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == gate.ConditionType {
					if c.Status == corev1.ConditionTrue {
						trueConditions++
					}
					break
				}
			}
		}
		readinessGates = fmt.Sprintf("%d/%d", trueConditions, len(pod.Spec.ReadinessGates))
	}
	return []interface{}{
		pod.Name, s.Ready, s.Status, s.Restarts, age(pod.CreationTimestamp, now),
		orNone(podIP), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates,
	}
}

// PodSummary is what `kubectl get pods` shows about a pod's state.
type PodSummary struct {
	Ready    string // "1/2"
	Status   string // Running, ContainerCreating, CrashLoopBackOff, Init:0/1, Terminating, ...
	Restarts string // "3" or "3 (5m ago)"
}

// PodStatus computes the READY, STATUS and RESTARTS cells exactly as kubectl's printPod
// does. The dashboard can use it to show the same words as kubectl.
func PodStatus(pod *corev1.Pod, now time.Time) PodSummary {
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	var t podTally
	t.total = len(pod.Spec.Containers)
	initReason, initializing := t.initContainers(pod)
	if initializing {
		reason = initReason
	}
	if !initializing || podInitialized(pod) {
		reason = t.containers(pod, reason)
	}

	if pod.DeletionTimestamp != nil && pod.Status.Reason == NodeUnreachablePodReason {
		reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		reason = "Terminating"
	}

	restartsStr := strconv.Itoa(t.restarts)
	if t.restarts != 0 && !t.lastRestart.IsZero() {
		restartsStr = fmt.Sprintf("%d (%s ago)", t.restarts, age(metav1.NewTime(t.lastRestart), now))
	}
	return PodSummary{
		Ready:    fmt.Sprintf("%d/%d", t.ready, t.total),
		Status:   reason,
		Restarts: restartsStr,
	}
}

// podTally counts a pod's containers as kubectl's printPod does: ready and total (sidecars
// count as containers), restarts and the last one's time.
type podTally struct {
	restarts, sidecarRestarts   int
	total, ready                int
	lastRestart, lastSidecarEnd time.Time
}

func later(t *time.Time, term *corev1.ContainerStateTerminated) {
	if term != nil && term.FinishedAt.Time.After(*t) {
		*t = term.FinishedAt.Time
	}
}

// initContainers walks the init containers in order and returns the reason of the first
// one not done ("Init:1/2", "Init:CrashLoopBackOff", "Init:ExitCode:1") and whether there
// is one; a started sidecar counts as done.
func (t *podTally) initContainers(pod *corev1.Pod) (string, bool) {
	specs := map[string]*corev1.Container{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		specs[c.Name] = c
		if isSidecar(c) {
			t.total++
		}
	}
	for i, cs := range pod.Status.InitContainerStatuses {
		t.restarts += int(cs.RestartCount)
		later(&t.lastRestart, cs.LastTerminationState.Terminated)
		sidecar := isSidecar(specs[cs.Name])
		if sidecar {
			t.sidecarRestarts += int(cs.RestartCount)
			later(&t.lastSidecarEnd, cs.LastTerminationState.Terminated)
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecar && cs.Started != nil && *cs.Started:
			if cs.Ready {
				t.ready++
			}
			continue
		case cs.State.Terminated != nil:
			// An init container failed.
			term := cs.State.Terminated
			switch {
			case term.Reason != "":
				return "Init:" + term.Reason, true
			case term.Signal != 0:
				return fmt.Sprintf("Init:Signal:%d", term.Signal), true
			default:
				return fmt.Sprintf("Init:ExitCode:%d", term.ExitCode), true
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			return "Init:" + cs.State.Waiting.Reason, true
		default:
			return fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers)), true
		}
	}
	return "", false
}

// containers counts the app containers (restarts start again from the sidecars', as
// kubectl's) and returns the pod's reason from them.
func (t *podTally) containers(pod *corev1.Pod, reason string) string {
	t.restarts = t.sidecarRestarts
	t.lastRestart = t.lastSidecarEnd
	hasRunning := false
	// Walk backwards so the first container's state wins, as kubectl does.
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		cs := pod.Status.ContainerStatuses[i]
		t.restarts += int(cs.RestartCount)
		later(&t.lastRestart, cs.LastTerminationState.Terminated)
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			reason = cs.State.Waiting.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			reason = cs.State.Terminated.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
			reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
		case cs.State.Terminated != nil:
			reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
		case cs.Ready && cs.State.Running != nil:
			hasRunning = true
			t.ready++
		}
	}
	// A pod with a finished container and a running one is still running.
	if reason == "Completed" && hasRunning {
		if podReady(pod) {
			return "Running"
		}
		return "NotReady"
	}
	return reason
}

// isSidecar reports an init container that keeps running beside the app containers.
func isSidecar(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podInitialized(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodInitialized && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// podReady is the pod printer's hasPodReadyCondition: any Ready condition that is True
// (the STATUS column must match kube-apiserver's), not podstatus.Ready's first one.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
