package apiserver

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"webkube/cluster/store"
)

// bootstrap creates what every cluster starts with; existing objects are left alone.
func (s *Server) bootstrap(ctx context.Context) error {
	nsRes := resourceFor(coreGR("namespaces"))
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := s.create(ctx, nsRes, "", ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	ip, err := firstIP(s.cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: ip.String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(443)}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	svcRes := resourceFor(coreGR("services"))
	if _, err := s.store.Get(ctx, svcRes.key("default", "kubernetes")); err == nil {
		return nil // kept from an earlier run, with its IP
	}
	if _, err := s.create(ctx, svcRes, "default", svc, false); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func (s *Server) kickNamespaceFinalizer() {
	select {
	case s.nsKick <- struct{}{}:
	default:
	}
}

// runNamespaceFinalizer empties namespaces marked for deletion and then removes them,
// the work kube-controller-manager's namespace controller does.
func (s *Server) runNamespaceFinalizer(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := s.finalizeNamespaces(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("namespace finalizer", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.nsKick:
		}
	}
}

func (s *Server) finalizeNamespaces(ctx context.Context) error {
	nsRes := resourceFor(coreGR("namespaces"))
	all := selectors{label: labels.Everything(), field: fields.Everything()}
	namespaces, _, err := s.list(ctx, nsRes, "", all, url.Values{})
	if err != nil {
		return err
	}
	for _, obj := range namespaces {
		ns := obj.(*corev1.Namespace)
		if ns.DeletionTimestamp == nil {
			continue
		}
		remaining := 0
		for _, r := range slices.Concat(resourceTable, s.crds.storageResources()) {
			if !r.namespaced || !r.stored() {
				continue
			}
			objs, _, err := s.list(ctx, r, ns.Name, all, url.Values{})
			if err != nil {
				return err
			}
			for _, o := range objs {
				remaining++
				m := mustMeta(o)
				if m.GetDeletionTimestamp() != nil {
					continue
				}
				if _, err := s.delete(ctx, r, ns.Name, m.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
		if remaining > 0 {
			continue
		}
		if len(ns.Finalizers) > 0 {
			continue // someone else's finalizer still holds it
		}
		rv, _ := parseRV(ns.ResourceVersion)
		s.activeNS.forget(ns.Name)
		if _, err := s.store.Delete(ctx, nsRes.key("", ns.Name), rv); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// runEventReaper deletes Events not updated for EventTTL, as kube-apiserver lets them
// expire, so a long session's revision log does not fill up with old events.
func (s *Server) runEventReaper(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := s.reapEvents(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("event reaper", "err", err)
		} else if n > 0 {
			s.log.Debug("expired events deleted", "count", n)
		}
	}
}

func (s *Server) reapEvents(ctx context.Context) (int, error) {
	r := resourceFor(coreGR("events"))
	all := selectors{label: labels.Everything(), field: fields.Everything()}
	objs, _, err := s.list(ctx, r, "", all, url.Values{})
	if err != nil {
		return 0, err
	}
	cutoff := s.clock.Now().Add(-s.cfg.EventTTL)
	n := 0
	for _, o := range objs {
		ev := o.(*corev1.Event)
		if !lastSeen(ev).Before(cutoff) {
			continue
		}
		rv, _ := parseRV(ev.ResourceVersion)
		if _, err := s.store.Delete(ctx, r.key(ev.Namespace, ev.Name), rv); err != nil &&
			!errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// lastSeen is when an Event was last written to.
func lastSeen(ev *corev1.Event) time.Time {
	t := ev.CreationTimestamp.Time
	for _, c := range []time.Time{ev.LastTimestamp.Time, ev.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if ev.Series != nil && ev.Series.LastObservedTime.Time.After(t) {
		t = ev.Series.LastObservedTime.Time
	}
	return t
}
