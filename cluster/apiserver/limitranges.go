package apiserver

import (
	"context"
	"errors"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"webkube/cluster/admission/limitranger"
	"webkube/cluster/defaulting"
	"webkube/cluster/watchcache"
)

// admitLimitRanges is the LimitRanger admission plugin on a new pod or claim: the
// namespace's LimitRanges default the containers' requests and limits, then bound them.
func (s *Server) admitLimitRanges(ctx context.Context, obj runtime.Object) error {
	m := mustMeta(obj)
	objs, err := s.sharedList(ctx, resourceFor(coreV1.WithResource("limitranges").GroupResource()), m.GetNamespace())
	if err != nil || len(objs) == 0 {
		return err
	}
	ranges := make([]*corev1.LimitRange, len(objs))
	for i, o := range objs {
		ranges[i] = o.(*corev1.LimitRange)
	}
	var errs []error
	switch o := obj.(type) {
	case *corev1.Pod:
		limitranger.Default(o, ranges)
		// The QoS class follows the defaults, as kube-apiserver sets it after admission.
		o.Status.QOSClass = defaulting.QOSClass(&o.Spec)
		errs = limitranger.ValidatePod(o, ranges)
	case *corev1.PersistentVolumeClaim:
		errs = limitranger.ValidateClaim(o, ranges)
	}
	if len(errs) > 0 {
		gr := coreGR("pods")
		if _, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			gr = coreGR("persistentvolumeclaims")
		}
		return apierrors.NewForbidden(gr, m.GetName(), utilerrors.NewAggregate(errs))
	}
	return nil
}

// sharedList reads a namespace's objects from the watch cache (the store while it
// loads), as kube's admission plugins read their informers. Read-only.
func (s *Server) sharedList(ctx context.Context, r *resource, ns string) ([]runtime.Object, error) {
	res, err := s.cache.List(watchcache.ListOptions{Prefix: r.listPrefix(ns)})
	if errors.Is(err, watchcache.ErrNotReady) {
		objs, _, err := s.list(ctx, r, ns, selectors{label: labels.Everything(), field: fields.Everything()}, url.Values{})
		return objs, err
	}
	if err != nil {
		return nil, err
	}
	objs := make([]runtime.Object, len(res.Items))
	for i, o := range res.Items {
		objs[i] = o.Obj
	}
	return objs, nil
}
