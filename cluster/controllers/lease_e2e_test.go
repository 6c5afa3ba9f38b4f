package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// Every node keeps a Lease in kube-node-lease renewed, owned by its Node: kubectl
// lists it and `describe node` shows its holder and renew time, as on a real cluster.
// A Lease whose owning Node is gone is garbage collected (a namespaced object with a
// cluster-scoped owner).
func TestNodeLease(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1", Heartbeat: 300 * time.Millisecond}}})
	ctx := context.Background()
	leases := c.Client.CoordinationV1().Leases("kube-node-lease")

	var first *metav1.MicroTime
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		l, err := leases.Get(ctx, "node-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		node, err := c.Client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if ptr.Deref(l.Spec.HolderIdentity, "") != "node-1" || ptr.Deref(l.Spec.LeaseDurationSeconds, 0) != 40 ||
			l.Spec.RenewTime == nil || len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != node.UID {
			return false, fmt.Sprintf("lease %+v owners %+v", l.Spec, l.OwnerReferences)
		}
		first = l.Spec.RenewTime
		return true, ""
	})
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		l, err := leases.Get(ctx, "node-1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return l.Spec.RenewTime.After(first.Time), fmt.Sprintf("renewTime %v, first %v", l.Spec.RenewTime, first)
	})

	out := c.MustKubectl(t, "", "get", "leases", "-n", "kube-node-lease")
	if !strings.Contains(out, "HOLDER") || !strings.Contains(out, "node-1   node-1") {
		t.Errorf("kubectl get leases:\n%s", out)
	}
	out = c.MustKubectl(t, "", "describe", "node", "node-1")
	if !strings.Contains(out, "Lease:") || !strings.Contains(out, "HolderIdentity:  node-1") ||
		strings.Contains(out, "RenewTime:       <unset>") {
		t.Errorf("describe node shows no lease:\n%s", out)
	}

	ghost := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: "default",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "ghost", UID: "ghost-uid"}}}}
	if _, err := c.Client.CoordinationV1().Leases("default").Create(ctx, ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := c.Client.CoordinationV1().Leases("default").Get(ctx, "ghost", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("lease of a missing node still there: %v", err)
	})
	if _, err := leases.Get(ctx, "node-1", metav1.GetOptions{}); err != nil {
		t.Errorf("the live node's lease went too: %v", err)
	}

	if _, err := c.Client.CoordinationV1().Leases("default").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To(int32(0))},
	}, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0") {
		t.Errorf("a zero lease duration: %v", err)
	}
}
