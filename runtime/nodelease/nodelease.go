// Package nodelease keeps a node's Lease in kube-node-lease renewed, as the kubelet's
// node lease controller does: a cheap heartbeat (one small object) every few seconds,
// so the Node object itself need not be rewritten that often. `kubectl describe node`
// shows the Lease's holder and renew time; `kubectl get leases -n kube-node-lease`
// lists one per node.
package nodelease

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Namespace holds every node's Lease.
const Namespace = corev1.NamespaceNodeLease

// Config says whose Lease to keep and how often.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// Duration is the Lease's leaseDurationSeconds; default 40 s, the kubelet's.
	Duration time.Duration
	// Renew is how often the Lease is renewed; default a quarter of Duration (10 s).
	Renew  time.Duration
	Clock  clock.WithTicker
	Logger *slog.Logger
}

// Renewer keeps one node's Lease.
type Renewer struct {
	cfg Config
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Renewer, error) {
	if cfg.Client == nil || cfg.NodeName == "" {
		return nil, fmt.Errorf("nodelease: Client and NodeName are required")
	}
	if cfg.Duration == 0 {
		cfg.Duration = 40 * time.Second
	}
	if cfg.Renew == 0 {
		cfg.Renew = cfg.Duration / 4
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Renewer{cfg: cfg}, nil
}

// Start renews the Lease once now (so a node that registered has its Lease at once)
// and then on every tick until ctx ends.
func (r *Renewer) Start(ctx context.Context) {
	if err := r.Renew(ctx); err != nil && ctx.Err() == nil {
		r.cfg.Logger.Warn("node lease", "node", r.cfg.NodeName, "err", err)
	}
	go func() {
		t := r.cfg.Clock.NewTicker(r.cfg.Renew)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
			}
			if err := r.Renew(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Warn("node lease", "node", r.cfg.NodeName, "err", err)
			}
		}
	}()
}

// Renew sets the Lease's renewTime to now, creating the Lease (owned by the Node, so it
// goes when the Node goes) if there is none.
func (r *Renewer) Renew(ctx context.Context) error {
	leases := r.cfg.Client.CoordinationV1().Leases(Namespace)
	now := metav1.NewMicroTime(r.cfg.Clock.Now())
	lease, err := leases.Get(ctx, r.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return r.create(ctx, now)
	}
	if err != nil {
		return fmt.Errorf("nodelease: get: %w", err)
	}
	lease = lease.DeepCopy()
	lease.Spec.HolderIdentity = ptr.To(r.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(r.cfg.Duration / time.Second))
	lease.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("nodelease: renew: %w", err)
	}
	return nil
}

func (r *Renewer) create(ctx context.Context, now metav1.MicroTime) error {
	node, err := r.cfg.Client.CoreV1().Nodes().Get(ctx, r.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("nodelease: node: %w", err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: r.cfg.NodeName, Namespace: Namespace,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(r.cfg.NodeName),
			LeaseDurationSeconds: ptr.To(int32(r.cfg.Duration / time.Second)),
			RenewTime:            &now,
		},
	}
	_, err = r.cfg.Client.CoordinationV1().Leases(Namespace).Create(ctx, lease, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // another instance of this node got there first; the next tick renews
	}
	if err != nil {
		return fmt.Errorf("nodelease: create: %w", err)
	}
	return nil
}
