package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/history"
	"webkube/cluster/stepper"
)

// newPod is ds's pod for node: the template with the daemon tolerations, pinned to node
// by node affinity, labelled with the revision's hash.
func newPod(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	t := true
	tmpl := ds.Spec.Template.DeepCopy()
	lbls := map[string]string{}
	for k, v := range tmpl.Labels {
		lbls[k] = v
	}
	lbls[history.HashLabel] = hash
	prefix := ds.Name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix, Namespace: ds.Namespace, Labels: lbls, Annotations: tmpl.Annotations, Finalizers: tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: ds.Name, UID: ds.UID, Controller: &t, BlockOwnerDeletion: &t}},
		},
		Spec: tmpl.Spec,
	}
	withTolerations(&pod.Spec)
	pinTo(&pod.Spec, node)
	return pod
}

// act creates and deletes what w says, each announced at the step gate first.
func (c *Controller) act(ctx context.Context, key string, ds *appsv1.DaemonSet, hash string, w work) error {
	nodes := make([]string, 0, len(w.create))
	for n := range w.create {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var errs []error
	for _, n := range nodes {
		errs = append(errs, c.createPod(ctx, key, ds, hash, n, w.create[n]))
	}
	for _, v := range w.delete {
		errs = append(errs, c.deletePod(ctx, key, ds, v.pod, v.why))
	}
	return errors.Join(errs...)
}

func (c *Controller) createPod(ctx context.Context, key string, ds *appsv1.DaemonSet, hash, node string, why reason) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "create-pod", Kind: "DaemonSet",
		Namespace: ds.Namespace, Name: ds.Name, Node: node,
		Message: fmt.Sprintf("creating a pod of DaemonSet %s for node %s", ds.Name, node), Why: why.en, Because: why.key}); err != nil {
		return err
	}
	c.exp.ExpectCreations(key, 1)
	pod, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, newPod(ds, hash, node), metav1.CreateOptions{})
	if err != nil {
		c.exp.CreationObserved(key)
		if ctx.Err() == nil {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", pod.Name)
	return nil
}

func (c *Controller) deletePod(ctx context.Context, key string, ds *appsv1.DaemonSet, p *corev1.Pod, why reason) error {
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "delete-pod", Kind: "Pod",
		Namespace: p.Namespace, Name: p.Name, Node: nodeOf(p),
		Message: fmt.Sprintf("deleting pod %s of DaemonSet %s", p.Name, ds.Name), Why: why.en, Because: why.key}); err != nil {
		return err
	}
	podKey := p.Namespace + "/" + p.Name
	c.exp.ExpectDeletions(key, []string{podKey})
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil {
		c.exp.DeletionObserved(key, podKey)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if ctx.Err() == nil {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		}
		return err
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
	return nil
}

// updateStatus writes st unless it is already there; on a conflict it retries once on a
// fresh copy.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus) error {
	if apiequality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	for attempt := 0; ; attempt++ {
		ds.Status = st
		_, err := client.UpdateStatus(ctx, ds, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return err
		}
		fresh, gerr := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		ds = fresh
		st.ObservedGeneration = min(st.ObservedGeneration, ds.Generation)
	}
}
