package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// scale adds up the replicas of the controllers of pods, each counted once: a
// Deployment's through its ReplicaSet, a ReplicaSet's, a StatefulSet's. A pod without
// such a controller is kube's error ("found no controllers for pod").
func (c *Controller) scale(pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	total := int32(0)
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			return 0, fmt.Errorf("found no controllers for pod %q", p.Name)
		}
		uid, n, err := c.controllerScale(p.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += n
		}
	}
	return total, nil
}

func (c *Controller) controllerScale(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.replicaSets.ReplicaSets(ns).Get(ref.Name)
		if err != nil {
			return "", 0, err
		}
		if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
			d, err := c.deployments.Deployments(ns).Get(dref.Name)
			if err != nil {
				return "", 0, err
			}
			return d.UID, replicas(d.Spec.Replicas), nil
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case "StatefulSet":
		ss, err := c.statefulSet.StatefulSets(ns).Get(ref.Name)
		if err != nil {
			return "", 0, err
		}
		return ss.UID, replicas(ss.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("found no controllers for pod with owner %s %s", ref.Kind, ref.Name)
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// stillDisrupted keeps the evicted pods that still exist, are not yet being deleted and
// were evicted less than DeletionTimeout ago (they do not count as healthy meanwhile);
// recheck is when the next one expires.
func (c *Controller) stillDisrupted(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	live := map[string]bool{}
	for _, p := range pods {
		live[p.Name] = p.DeletionTimestamp == nil
	}
	var out map[string]metav1.Time
	var recheck time.Duration
	for name, at := range pdb.Status.DisruptedPods {
		left := at.Add(DeletionTimeout).Sub(now)
		if !live[name] || left <= 0 {
			continue
		}
		if out == nil {
			out = map[string]metav1.Time{}
		}
		out[name] = at
		if recheck == 0 || left < recheck {
			recheck = left
		}
	}
	return out, recheck
}
