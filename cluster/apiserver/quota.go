package apiserver

import (
	"context"
	"hash/fnv"
	"net/url"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/admission/quota"
	"webkube/cluster/watchcache"
)

// quotaLocks serialise the ResourceQuota admission of one namespace: two creates that
// each fit alone but not together cannot both read the same status.used (kube-apiserver
// gets the same from compare-and-swap on the quota; in one process a lock is simpler and
// the status is still written with compare-and-swap, against the quota controller).
type quotaLocks [32]sync.Mutex

func (l *quotaLocks) lock(ns string) func() {
	h := fnv.New32a()
	h.Write([]byte(ns))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// admitQuota is kube-apiserver's ResourceQuota admission plugin on a new object: every
// quota of its namespace that limits what it uses must have room, and is charged
// (status.used) before the object is written. The quota controller later recounts, so a
// charge for a create that then failed is given back.
func (s *Server) admitQuota(ctx context.Context, r *resource, obj runtime.Object, dryRun bool) error {
	if !r.namespaced || r.review {
		return nil
	}
	m := mustMeta(obj)
	ns := m.GetNamespace()
	qr := resourceFor(coreV1.WithResource("resourcequotas").GroupResource())
	// Most namespaces have no quota: the watch cache says so without the lock.
	if res, err := s.cache.List(watchcache.ListOptions{Prefix: qr.listPrefix(ns)}); err == nil && len(res.Items) == 0 {
		return nil
	}
	defer s.quotaLocks.lock(ns)()
	return s.chargeUsage(ctx, qr, r, obj, quota.Usage(r.gr(), obj, s.clock.Now()), dryRun)
}

// admitQuotaUpdate is the same plugin on an update of a Service or a claim (the kinds
// whose usage an update can change, as kube's evaluators): only what the update adds is
// charged, so a Service turned NodePort or a claim grown past a quota is refused. A
// charge made by an attempt that then lost a write race is recounted by the controller.
func (s *Server) admitQuotaUpdate(ctx context.Context, r *resource, sub string, next, old runtime.Object, dryRun bool) error {
	if sub != "" || r.gr() != (schema.GroupResource{Resource: "services"}) && r.gr() != (schema.GroupResource{Resource: "persistentvolumeclaims"}) {
		return nil
	}
	now := s.clock.Now()
	grown := quota.Grown(quota.Usage(r.gr(), old, now), quota.Usage(r.gr(), next, now))
	if len(grown) == 0 {
		return nil
	}
	qr := resourceFor(coreV1.WithResource("resourcequotas").GroupResource())
	ns := mustMeta(next).GetNamespace()
	if res, err := s.cache.List(watchcache.ListOptions{Prefix: qr.listPrefix(ns)}); err == nil && len(res.Items) == 0 {
		return nil
	}
	defer s.quotaLocks.lock(ns)()
	return s.chargeUsage(ctx, qr, r, next, grown, dryRun)
}

// chargeUsage checks usage against every quota of obj's namespace and charges those it
// counts against; the caller holds the namespace's quota lock.
func (s *Server) chargeUsage(ctx context.Context, qr *resource, r *resource, obj runtime.Object, usage corev1.ResourceList, dryRun bool) error {
	m := mustMeta(obj)
	ns := m.GetNamespace()
	quotas, _, err := s.list(ctx, qr, ns, selectors{label: labels.Everything(), field: fields.Everything()}, url.Values{})
	if err != nil {
		return err
	}
	var charged []string
	for _, o := range quotas {
		q := o.(*corev1.ResourceQuota)
		_, ok, err := quota.Charge(q, r.gr(), obj, usage)
		if err != nil {
			return apierrors.NewForbidden(r.gr(), m.GetName(), err)
		}
		if ok {
			charged = append(charged, q.Name)
		}
	}
	if dryRun {
		return nil
	}
	for _, name := range charged {
		if err := s.chargeQuota(ctx, qr, ns, name, r, obj, usage); err != nil {
			return err
		}
	}
	return nil
}

// chargeQuota writes one quota's new status.used, checking again against the stored
// quota (the controller may have recounted since the list).
func (s *Server) chargeQuota(ctx context.Context, qr *resource, ns, name string, r *resource, obj runtime.Object, usage corev1.ResourceList) error {
	var refused error
	_, err := s.update(ctx, qr, ns, name, "status", false, func(cur runtime.Object) (runtime.Object, error) {
		q := cur.(*corev1.ResourceQuota)
		used, ok, err := quota.Charge(q, r.gr(), obj, usage)
		if err != nil {
			refused = apierrors.NewForbidden(r.gr(), mustMeta(obj).GetName(), err)
			return nil, refused
		}
		if ok {
			q.Status.Used = used
		}
		return q, nil
	})
	if refused != nil {
		return refused
	}
	if apierrors.IsNotFound(err) {
		return nil // the quota went meanwhile
	}
	return err
}
