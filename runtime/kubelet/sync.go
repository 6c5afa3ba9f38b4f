package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/stepper"
	"webkube/runtime/cni"
	"webkube/runtime/containers"
	"webkube/runtime/images"
	"webkube/runtime/probes"
)

// Restart back-off, as the kubelet's: 10 s doubling to 5 minutes, forgotten once a
// container has run for 10 minutes.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// podState is what the kubelet remembers about a pod between syncs; everything else is
// read again from the API (the pod) and containerd (its containers) on every sync.
type podState struct {
	uid         types.UID
	seen        bool
	created     bool // the create-containers step was announced
	reported    bool // the first Running status was announced
	network     *cni.Network
	startTime   metav1.Time
	backoff     map[string]*backoff                     // restart back-off by container name
	pullBackoff map[string]*backoff                     // image pull back-off by container name
	waiting     map[string]corev1.ContainerStateWaiting // why a container has no running instance
	probes      map[string]*probeSet                    // by container ID
	tokens      map[string][]byte                       // service account tokens of projected volumes, by audience|expiry
	volumeMeta  string                                  // the labels and annotations the volumes were last written with
	volumesAt   time.Time                               // when the volumes were last computed
	terminating atomic.Bool                             // set by the sync worker, cleared by the terminate goroutine on failure
}

type backoff struct {
	delay time.Duration
	until time.Time
}

// probeSet is the probe workers of one container instance. Liveness and readiness start
// only once the startup probe has succeeded, from the startup worker's goroutine, hence
// the lock.
type probeSet struct {
	name                         string
	mu                           sync.Mutex
	liveness, readiness, startup *probes.Worker
}

// results says whether the container counts as started and ready.
func (ps *probeSet) results() (started, ready bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	started, ready = true, true
	if ps.startup != nil && ps.startup.Result() != probes.Success {
		started, ready = false, false
	}
	if ps.readiness != nil && ps.readiness.Result() != probes.Success {
		ready = false
	}
	return started, ready
}

func (ps *probeSet) stop() {
	ps.mu.Lock()
	workers := []*probes.Worker{ps.liveness, ps.readiness, ps.startup}
	ps.mu.Unlock()
	for _, w := range workers {
		if w != nil {
			w.Stop()
		}
	}
}

func (k *Kubelet) getState(key string) *podState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state[key]
}

func (k *Kubelet) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := k.pods.Pods(ns).Get(name)
	st := k.getState(key)
	if apierrors.IsNotFound(err) {
		if st != nil && !st.terminating.Load() {
			// Deleted at once (force, or a finished pod, which the API server removes
			// without grace): stop what still runs and release the network. The state is
			// forgotten only once that worked, so a failure is retried.
			k.stopProbes(st)
			if err := k.killPod(ctx, string(st.uid), ns, name, 2*time.Second); err != nil {
				return err
			}
			k.mu.Lock()
			if k.state[key] == st {
				delete(k.state, key)
			}
			k.mu.Unlock()
			return nil
		}
		return nil
	}
	if err != nil {
		return err
	}
	if st != nil && st.uid != pod.UID {
		k.mu.Lock()
		delete(k.state, key)
		k.mu.Unlock()
		k.stopProbes(st)
		if err := k.killPod(ctx, string(st.uid), ns, name, 2*time.Second); err != nil {
			return err
		}
		st = nil
	}
	if st == nil {
		st = &podState{uid: pod.UID, backoff: map[string]*backoff{}, pullBackoff: map[string]*backoff{},
			waiting: map[string]corev1.ContainerStateWaiting{}, probes: map[string]*probeSet{}}
		k.mu.Lock()
		k.state[key] = st
		k.mu.Unlock()
	}
	if pod.DeletionTimestamp != nil {
		k.terminate(ctx, pod.DeepCopy(), st)
		return nil
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		k.stopProbes(st)
		return nil
	}
	if !st.seen {
		if err := k.step(ctx, "see-pod", pod, fmt.Sprintf("kubelet on %s sees pod %s bound to it", k.cfg.NodeName, key)); err != nil {
			return err
		}
		st.seen = true
		st.startTime = metav1.NewTime(k.cfg.Clock.Now())
		if pod.Status.StartTime != nil {
			st.startTime = *pod.Status.StartTime
		}
	}
	if st.network == nil {
		nw, err := k.cfg.Network.SetUp(ctx, string(pod.UID), pod.Namespace, pod.Name)
		if err != nil {
			k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return fmt.Errorf("network: %w", err)
		}
		st.network = &nw
	}

	list, err := k.cfg.Runtime.List(ctx, string(pod.UID))
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	insts := groupInstances(list)
	k.pruneInstances(ctx, insts)

	if done, err := k.syncInitContainers(ctx, pod, st, insts); err != nil {
		return err
	} else if done {
		for i := range pod.Spec.Containers {
			if err := k.syncContainer(ctx, pod, st, &pod.Spec.Containers[i], insts[pod.Spec.Containers[i].Name], false); err != nil {
				return err
			}
		}
		if err := k.syncEphemeralContainers(ctx, pod, st, insts); err != nil {
			return err
		}
	}
	k.refreshVolumes(ctx, pod, st)
	// Read again: starting containers changed what runs.
	if list, err = k.cfg.Runtime.List(ctx, string(pod.UID)); err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	return k.reportStatus(ctx, pod, st, groupInstances(list))
}

// syncEphemeralContainers starts each ephemeral container (kubectl debug) once; they are
// never restarted, as the kubelet's. One with a targetContainerName shares that
// container's process namespace (containers.Create).
func (k *Kubelet) syncEphemeralContainers(ctx context.Context, pod *corev1.Pod, st *podState, insts map[string]instances) error {
	for i := range pod.Spec.EphemeralContainers {
		c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		if insts[c.Name].latest() != nil {
			continue
		}
		if err := k.startContainer(ctx, pod, st, &c, 0); err != nil {
			return err
		}
	}
	return nil
}

// instances of one container name, newest first.
type instances []containers.Status

func (in instances) latest() *containers.Status {
	if len(in) == 0 {
		return nil
	}
	return &in[0]
}

func (in instances) previous() *containers.Status {
	if len(in) < 2 {
		return nil
	}
	return &in[1]
}

func groupInstances(list []containers.Status) map[string]instances {
	out := map[string]instances{}
	for _, s := range list {
		out[s.Name] = append(out[s.Name], s)
	}
	for name, in := range out {
		for i := 1; i < len(in); i++ { // few instances: insertion sort by restart count, newest first
			for j := i; j > 0 && in[j].RestartCount > in[j-1].RestartCount; j-- {
				in[j], in[j-1] = in[j-1], in[j]
			}
		}
		out[name] = in
	}
	return out
}

// pruneInstances keeps the newest two instances of each container: the current one and
// the previous one that `kubectl logs --previous` reads.
func (k *Kubelet) pruneInstances(ctx context.Context, insts map[string]instances) {
	for _, in := range insts {
		for _, old := range in[min(2, len(in)):] {
			if old.State != containers.StateRunning {
				if err := k.cfg.Runtime.Remove(ctx, old.ID); err != nil {
					k.log.Warn("remove old container", "id", old.ID, "err", err)
				}
			}
		}
	}
}

// syncInitContainers runs init containers one at a time; done says all have succeeded.
func (k *Kubelet) syncInitContainers(ctx context.Context, pod *corev1.Pod, st *podState, insts map[string]instances) (bool, error) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := insts[c.Name].latest()
		if cur != nil && cur.State == containers.StateExited && cur.ExitCode == 0 {
			continue
		}
		return false, k.syncContainer(ctx, pod, st, c, insts[c.Name], true)
	}
	return true, nil
}

// syncContainer makes one container match the spec: start it, restart it after an exit
// as the restart policy and back-off say, or leave it alone.
func (k *Kubelet) syncContainer(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, in instances, isInit bool) error {
	cur := in.latest()
	if cur == nil {
		return k.startContainer(ctx, pod, st, c, 0)
	}
	switch cur.State {
	case containers.StateRunning:
		k.ensureProbes(ctx, pod, st, c, cur)
		return nil
	case containers.StateCreated:
		// Created but never started (we died in between): start it now. If that fails,
		// remove it, so the retry makes a new one instead of failing on it forever.
		if err := k.cfg.Runtime.StartContainer(ctx, cur.ID); err != nil {
			if rerr := k.cfg.Runtime.Remove(ctx, cur.ID); rerr != nil {
				k.log.Warn("remove container that did not start", "id", cur.ID, "err", rerr)
			}
			return fmt.Errorf("start %s: %w", c.Name, err)
		}
		return nil
	}
	// Exited.
	if ps := st.probes[cur.ID]; ps != nil {
		ps.stop()
		delete(st.probes, cur.ID)
	}
	if !shouldRestart(pod.Spec.RestartPolicy, cur, isInit) {
		return nil
	}
	now := k.cfg.Clock.Now()
	b := st.backoff[c.Name]
	if b != nil && ranLong(cur) {
		b = nil
	}
	if b == nil {
		b = &backoff{}
		st.backoff[c.Name] = b
	} else if b.until.IsZero() || now.Before(b.until) {
		if b.until.IsZero() {
			b.until = cur.FinishedAt.Add(b.delay)
		}
		if now.Before(b.until) {
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", b.delay, c.Name, pod.Name, pod.Namespace, pod.UID)
			if w, ok := st.waiting[c.Name]; !ok || w.Reason != "CrashLoopBackOff" {
				k.rec.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
			}
			st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: msg}
			k.queue.AddAfter(podKey(pod), b.until.Sub(now)+50*time.Millisecond)
			return nil
		}
	}
	// Restart now; the next exit waits twice as long.
	switch {
	case b.delay == 0:
		b.delay = backoffInitial
	case b.delay < backoffMax:
		b.delay = min(2*b.delay, backoffMax)
	}
	b.until = time.Time{}
	return k.startContainer(ctx, pod, st, c, cur.RestartCount+1)
}

// ranLong reports whether an instance ran long enough to reset its restart back-off. One with
// no recorded start did not: counting from the zero time would reset the back-off of a
// container that exits at once, and it would restart in a tight loop.
func ranLong(s *containers.Status) bool {
	return !s.StartedAt.IsZero() && s.FinishedAt.Sub(s.StartedAt) >= backoffReset
}

func shouldRestart(policy corev1.RestartPolicy, s *containers.Status, isInit bool) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return s.ExitCode != 0
	}
	// Always: init containers still only rerun after a failure.
	return !isInit || s.ExitCode != 0
}

func (k *Kubelet) startContainer(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, restartCount int) error {
	now := k.cfg.Clock.Now()
	if b := st.pullBackoff[c.Name]; b != nil && now.Before(b.until) {
		w := st.waiting[c.Name]
		if w.Reason != reasonImagePullBackOff {
			if now.Sub(b.until.Add(-b.delay)) < errImagePullShown {
				// Just failed: keep showing ErrImagePull for a moment.
				k.queue.AddAfter(podKey(pod), errImagePullShown)
				return nil
			}
			k.rec.Eventf(pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			k.rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reasonImagePullBackOff)
		}
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: reasonImagePullBackOff,
			Message: fmt.Sprintf("Back-off pulling image %q: %s", c.Image, w.Message)}
		k.queue.AddAfter(podKey(pod), b.until.Sub(now)+50*time.Millisecond)
		return nil
	}
	if !st.created {
		if err := k.step(ctx, "create-containers", pod, fmt.Sprintf("kubelet on %s creates the containers of %s/%s", k.cfg.NodeName, pod.Namespace, pod.Name)); err != nil {
			return err
		}
		st.created = true
	}
	if _, ok := st.waiting[c.Name]; !ok {
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	img, err := k.cfg.Images.EnsureWithAuth(ctx, c.Image, c.ImagePullPolicy, k.pullAuth(ctx, pod), func(reason, msg string) {
		typ := corev1.EventTypeNormal
		if reason == "Failed" || reason == images.ReasonErrImageNeverPull {
			typ = corev1.EventTypeWarning
		}
		k.rec.Event(pod, typ, reason, msg)
	})
	if err != nil {
		var ie *images.Error
		reason, msg := images.ReasonErrImagePull, err.Error()
		if errors.As(err, &ie) {
			reason, msg = ie.Reason, ie.Message
		}
		b := st.pullBackoff[c.Name]
		if b == nil {
			b = &backoff{delay: backoffInitial}
			st.pullBackoff[c.Name] = b
		} else {
			b.delay = min(2*b.delay, backoffMax)
		}
		b.until = now.Add(b.delay)
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		k.rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
		// Like the kubelet, the next sync (soon) finds the pull in back-off and says
		// ImagePullBackOff until the back-off ends and the pull is tried again.
		k.queue.AddAfter(podKey(pod), errImagePullShown)
		k.queue.AddAfter(podKey(pod), b.delay+50*time.Millisecond)
		return nil
	}
	delete(st.pullBackoff, c.Name)
	opts := containers.CreateOptions{Pod: pod, Container: c, Image: img, Network: *st.network, RestartCount: restartCount}
	if !k.containerConfig(ctx, pod, st, &opts) {
		k.queue.AddAfter(podKey(pod), 5*time.Second)
		return nil
	}
	id, err := k.cfg.Runtime.Create(ctx, opts)
	if err != nil {
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}
		k.rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		k.queue.AddAfter(podKey(pod), 5*time.Second)
		return nil
	}
	k.rec.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if err := k.cfg.Runtime.StartContainer(ctx, id); err != nil {
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}
		k.rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		_ = k.cfg.Runtime.Remove(ctx, id)
		k.queue.AddAfter(podKey(pod), 5*time.Second)
		return nil
	}
	delete(st.waiting, c.Name)
	k.rec.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if !k.postStart(ctx, pod, c, id) {
		k.queue.Add(podKey(pod)) // restarted (or not) per restartPolicy, as any exit
		return nil
	}
	if s, err := k.cfg.Runtime.Status(ctx, id); err == nil {
		k.ensureProbes(ctx, pod, st, c, &s)
	}
	return nil
}

// containerConfig fills in what a container gets from the API: its ConfigMaps and Secrets,
// the Service variables and the service account files. On failure it records why, as the
// kubelet does, and returns false: a missing ConfigMap or Secret is a
// CreateContainerConfigError; a token that cannot be had leaves the pod ContainerCreating,
// as a projected volume that cannot be mounted.
func (k *Kubelet) containerConfig(ctx context.Context, pod *corev1.Pod, st *podState, opts *containers.CreateOptions) bool {
	c := opts.Container
	var err error
	opts.ConfigMaps, opts.Secrets, err = k.configData(ctx, pod, c)
	if err == nil {
		opts.ExtraEnv, err = k.serviceEnv(ctx, pod)
	}
	if err != nil {
		st.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		k.rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return false
	}
	if opts.ClaimDirs, opts.OwnedClaims, err = k.claimDirs(ctx, pod); err != nil {
		k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "Unable to attach or mount volumes: %v", err)
		return false
	}
	if opts.VolumeFiles, err = k.volumeFiles(ctx, pod, st, opts.ConfigMaps, opts.Secrets); err != nil {
		k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		return false
	}
	st.volumeMeta, st.volumesAt = podMeta(pod), k.cfg.Clock.Now()
	return true
}

// configRefs lists the ConfigMaps and Secrets a container's volumes and env refer to,
// each with whether it must exist (not marked optional).
func configRefs(pod *corev1.Pod, c *corev1.Container) (cms, secrets map[string]bool) {
	cms, secrets = map[string]bool{}, map[string]bool{}
	need := func(m map[string]bool, name string, optional *bool) {
		m[name] = m[name] || optional == nil || !*optional
	}
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil {
			need(cms, v.ConfigMap.Name, v.ConfigMap.Optional)
		}
		if v.Secret != nil {
			need(secrets, v.Secret.SecretName, v.Secret.Optional)
		}
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ConfigMap != nil {
				need(cms, src.ConfigMap.Name, src.ConfigMap.Optional)
			}
			if src.Secret != nil {
				need(secrets, src.Secret.Name, src.Secret.Optional)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			need(cms, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Optional)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			need(secrets, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
		}
	}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			need(cms, e.ConfigMapRef.Name, e.ConfigMapRef.Optional)
		}
		if e.SecretRef != nil {
			need(secrets, e.SecretRef.Name, e.SecretRef.Optional)
		}
	}
	return cms, secrets
}

// configData fetches the ConfigMaps and Secrets a container refers to; a missing one that
// is not optional is an error the kubelet reports as CreateContainerConfigError.
func (k *Kubelet) configData(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (map[string]map[string]string, map[string]map[string][]byte, error) {
	cmRefs, secretRefs := configRefs(pod, c)
	cms := map[string]map[string]string{}
	for name, required := range cmRefs {
		cm, err := k.cfg.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && !required {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("configmap %q not found", name)
		}
		cms[name] = cm.Data
	}
	secrets := map[string]map[string][]byte{}
	for name, required := range secretRefs {
		s, err := k.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && !required {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("secret %q not found", name)
		}
		secrets[name] = s.Data
	}
	return cms, secrets, nil
}

// step announces an action to the dashboard's step gate (and waits there in step mode).
func (k *Kubelet) step(ctx context.Context, action string, pod *corev1.Pod, msg string) error {
	return k.cfg.Gate.Wait(ctx, stepper.Step{Component: "kubelet/" + k.cfg.NodeName, Action: action, Kind: "Pod",
		Namespace: pod.Namespace, Name: pod.Name, Node: k.cfg.NodeName, Message: msg})
}

// reportStatus writes the pod status computed from its containers, when it changed.
func (k *Kubelet) reportStatus(ctx context.Context, pod *corev1.Pod, st *podState, insts map[string]instances) error {
	status := k.computeStatus(pod, st, insts)
	if apiequality.Semantic.DeepEqual(status, pod.Status) {
		return nil
	}
	if !st.reported && status.Phase == corev1.PodRunning {
		if err := k.step(ctx, "report-status", pod, fmt.Sprintf("kubelet on %s reports %s/%s Running", k.cfg.NodeName, pod.Namespace, pod.Name)); err != nil {
			return err
		}
		st.reported = true
	}
	// A merge patch of the whole status, like the kubelet's status manager: no
	// resourceVersion, so a pod changed meanwhile (labels, the scheduler's binding) is no
	// conflict; the uid makes sure it is still the same pod.
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": pod.UID}, "status": status})
	if err != nil {
		return err
	}
	_, err = k.cfg.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // deleted, or replaced by a pod of the same name (synced on its own)
	}
	return err
}

// terminate stops a deleted pod's containers within its grace period, releases its
// network and volumes, then removes the pod object (grace 0), as the kubelet does.
func (k *Kubelet) terminate(ctx context.Context, pod *corev1.Pod, st *podState) {
	if !st.terminating.CompareAndSwap(false, true) {
		return
	}
	grace := 30 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	k.stopProbes(st)
	start := time.Now()
	go func() {
		list, _ := k.cfg.Runtime.List(ctx, string(pod.UID))
		for _, s := range list {
			if s.State == containers.StateRunning {
				k.rec.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", s.Name)
			}
		}
		k.runPreStopHooks(ctx, pod, list, grace)
		// The hooks used part of the grace period; what is left is for SIGTERM.
		remaining := time.Until(start.Add(grace))
		if remaining < 0 {
			remaining = 0
		}
		stopping := time.Now()
		if err := k.killPod(ctx, string(pod.UID), pod.Namespace, pod.Name, remaining); err != nil {
			k.log.Warn("kill pod", "pod", podKey(pod), "err", err)
			st.terminating.Store(false)
			k.queue.AddAfter(podKey(pod), time.Second)
			return
		}
		killed := time.Now()
		zero := int64(0)
		err := k.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			k.log.Warn("delete pod", "pod", podKey(pod), "err", err)
			st.terminating.Store(false)
			k.queue.AddAfter(podKey(pod), time.Second)
			return
		}
		// Where a slow deletion spent its time (hooks, stopping and cleaning up, the API).
		k.log.Debug("pod terminated", "pod", podKey(pod), "took", time.Since(start).Round(time.Millisecond),
			"hooks", stopping.Sub(start).Round(time.Millisecond), "kill", killed.Sub(stopping).Round(time.Millisecond),
			"delete", time.Since(killed).Round(time.Millisecond))
		k.mu.Lock()
		if k.state[podKey(pod)] == st {
			delete(k.state, podKey(pod))
		}
		k.mu.Unlock()
	}()
}

// killPod stops and removes every container of a pod and releases its network and
// volume dirs.
func (k *Kubelet) killPod(ctx context.Context, uid, namespace, name string, grace time.Duration) error {
	list, err := k.cfg.Runtime.List(ctx, uid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	errs := make(chan error, len(list))
	for _, s := range list {
		go func(id string) { errs <- k.cfg.Runtime.Stop(ctx, id, grace) }(s.ID)
	}
	for range list {
		if err := <-errs; err != nil {
			return err
		}
	}
	t1 := time.Now()
	for _, s := range list {
		if err := k.cfg.Runtime.Remove(ctx, s.ID); err != nil {
			return err
		}
	}
	t2 := time.Now()
	if err := k.cfg.Network.TearDown(ctx, uid); err != nil {
		return err
	}
	t3 := time.Now()
	err = k.cfg.Runtime.RemovePod(ctx, uid, namespace, name)
	k.log.Debug("pod killed", "pod", namespace+"/"+name, "containers", len(list), "stop", t1.Sub(t0).Round(time.Millisecond),
		"remove", t2.Sub(t1).Round(time.Millisecond), "network", t3.Sub(t2).Round(time.Millisecond),
		"sandbox", time.Since(t3).Round(time.Millisecond))
	return err
}

// cleanupOrphans removes containers and networks of pods that no longer exist (deleted
// while webkube was down, or left by a failure), and shims that serve no known task. It
// runs at start and every SweepInterval.
func (k *Kubelet) cleanupOrphans(ctx context.Context) {
	// Containers and networks are listed before the pods: one made meanwhile belongs to a
	// pod already in the cache and in k.state, so it is never taken for an orphan.
	list, err := k.cfg.Runtime.List(ctx, "")
	if err != nil {
		k.log.Warn("list containers", "err", err)
		return
	}
	nets, nerr := k.cfg.Network.List(ctx)
	live := k.livePods()
	done := map[string]bool{}
	for _, s := range list {
		if !live[s.PodUID] && !done[s.PodUID] {
			done[s.PodUID] = true
			k.log.Info("removing containers of a deleted pod", "pod", s.Namespace+"/"+s.PodName)
			if err := k.killPod(ctx, s.PodUID, s.Namespace, s.PodName, 2*time.Second); err != nil {
				k.log.Warn("remove orphan", "pod", s.Namespace+"/"+s.PodName, "err", err)
			}
		}
	}
	if nerr == nil {
		for _, n := range nets {
			if !live[n.PodUID] && !done[n.PodUID] {
				if err := k.cfg.Network.TearDown(ctx, n.PodUID); err != nil {
					k.log.Warn("remove orphan network", "pod", n.Namespace+"/"+n.Name, "err", err)
				}
			}
		}
	}
	// A shim younger than a minute may be starting a container right now.
	if killed, err := k.cfg.Runtime.ReapShims(ctx, time.Minute); err != nil {
		k.log.Warn("reap shims", "err", err)
	} else if len(killed) > 0 {
		k.log.Info("killed shims that served no known task", "pids", killed)
	}
}

// livePods are the UIDs of the pods in the cache and of those the kubelet still handles.
func (k *Kubelet) livePods() map[string]bool {
	live := map[string]bool{}
	pods, _ := k.pods.List(everything)
	for _, p := range pods {
		live[string(p.UID)] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, st := range k.state {
		live[string(st.uid)] = true
	}
	return live
}

// sweep runs cleanupOrphans every SweepInterval.
func (k *Kubelet) sweep(ctx context.Context) {
	k.every(ctx, k.cfg.SweepInterval, nil, func() {
		if k.runtimeErr() == nil {
			k.cleanupOrphans(ctx)
		}
	})
}

// errImagePullShown is how long ErrImagePull shows before ImagePullBackOff.
const errImagePullShown = 2 * time.Second

// reasonImagePullBackOff is the waiting reason between failed pulls.
const reasonImagePullBackOff = "ImagePullBackOff"
