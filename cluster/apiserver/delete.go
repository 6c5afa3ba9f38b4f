package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/store"
)

func coreGR(res string) schema.GroupResource { return schema.GroupResource{Resource: res} }

// deleteOptions reads DeleteOptions from the body (kubectl sends
// {"propagationPolicy":"Background"}) and from query parameters.
func deleteOptions(r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(r)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		data, err := bodyToJSON(body, r.Header.Get("Content-Type"))
		if err != nil {
			return opts, err
		}
		if err := decodeStrict(metav1.SchemeGroupVersion.WithKind("DeleteOptions"), data, &opts, strictDecoding); err != nil {
			return opts, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return opts, badRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	if isDryRun(q) {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return opts, badRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q", *p))
		}
	}
	return opts, nil
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, t target) error {
	opts, err := deleteOptions(r)
	if err != nil {
		return err
	}
	out, err := s.delete(r.Context(), t.res, t.namespace, t.name, opts)
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, t.res, out)
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, t target) error {
	opts, err := deleteOptions(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	sel, err := parseSelectors(t.res, q, "")
	if err != nil {
		return err
	}
	objs, _, err := s.list(r.Context(), t.res, t.namespace, sel, url.Values{})
	if err != nil {
		return err
	}
	var deleted []runtime.Object
	var last int64
	for _, obj := range objs {
		m := mustMeta(obj)
		out, err := s.delete(r.Context(), t.res, m.GetNamespace(), m.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		deleted = append(deleted, out)
		if rv, _ := parseRV(mustMeta(out).GetResourceVersion()); rv > last {
			last = rv
		}
	}
	return s.writeList(w, r, t.res, deleted, last)
}

// delete removes an object or, when something must happen first, marks it with a
// deletionTimestamp: a pod on a node waits for its kubelet (graceful deletion), an
// object with finalizers waits for them, a namespace waits for its contents.
func (s *Server) delete(ctx context.Context, r *resource, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error) {
	key := r.key(ns, name)
	dryRun := len(opts.DryRun) > 0
	if r.gvr.Resource == "namespaces" {
		if name == "default" || name == "kube-system" || name == "kube-public" {
			return nil, apierrors.NewForbidden(r.gr(), name, errors.New("this namespace may not be deleted"))
		}
		s.activeNS.forget(name)
		defer s.activeNS.forget(name)
	}
	for attempt := 0; attempt < 20; attempt++ {
		cur, kv, err := s.getObject(ctx, r, ns, name)
		if err != nil {
			return nil, err
		}
		m := mustMeta(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, apierrors.NewConflict(r.gr(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, apierrors.NewConflict(r.gr(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		now := s.clock.Now().Truncate(time.Second)
		changed := addDeletionFinalizers(m, opts)
		grace := gracePeriod(cur, opts)
		if ns, ok := cur.(*corev1.Namespace); ok {
			// A namespace is finalized by the namespace finalizer once it is empty.
			if ns.DeletionTimestamp == nil {
				ns.DeletionTimestamp = &metav1.Time{Time: now}
				ns.Status.Phase = corev1.NamespaceTerminating
				changed = true
			}
			grace = 0
		}
		switch {
		case m.GetDeletionTimestamp() != nil && !changed:
			// Already being deleted. A shorter grace period (the kubelet's final delete
			// with 0) moves it along; otherwise nothing to do.
			cg := m.GetDeletionGracePeriodSeconds()
			if grace < 0 || cg == nil || grace >= *cg {
				return cur, nil
			}
			if grace == 0 && len(m.GetFinalizers()) == 0 {
				break // delete now
			}
			m.SetDeletionGracePeriodSeconds(&grace)
			m.SetDeletionTimestamp(&metav1.Time{Time: now.Add(time.Duration(grace) * time.Second)})
			changed = true
		case len(m.GetFinalizers()) > 0 || grace > 0 || changed:
			if m.GetDeletionTimestamp() == nil {
				g := max(grace, 0)
				m.SetDeletionGracePeriodSeconds(&g)
				m.SetDeletionTimestamp(&metav1.Time{Time: now.Add(time.Duration(g) * time.Second)})
				if m.GetGeneration() > 0 {
					m.SetGeneration(m.GetGeneration() + 1)
				}
			}
			changed = true
		}
		if changed {
			if dryRun {
				return cur, nil
			}
			data, err := encodeForStore(cur)
			if err != nil {
				return nil, err
			}
			rev, err := s.store.Update(ctx, key, data, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, storeErr(r, name, err)
			}
			setRV(cur, rev)
			if r.gvr.Resource == "namespaces" {
				s.kickNamespaceFinalizer()
			}
			return cur, nil
		}
		if dryRun {
			return cur, nil
		}
		dkv, err := s.store.Delete(ctx, key, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, storeErr(r, name, err)
		}
		s.releaseService(cur)
		setRV(cur, dkv.ModRevision)
		return cur, nil
	}
	return nil, conflict(r, name)
}

// addDeletionFinalizers adds the garbage collector's finalizers the propagation policy
// asks for (Orphan → "orphan", Foreground → "foregroundDeletion").
func addDeletionFinalizers(m metav1.Object, opts metav1.DeleteOptions) bool {
	var want string
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.PropagationPolicy == nil && opts.OrphanDependents != nil && *opts.OrphanDependents:
		want = metav1.FinalizerOrphanDependents
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground:
		want = metav1.FinalizerDeleteDependents
	default:
		return false
	}
	for _, f := range m.GetFinalizers() {
		if f == want {
			return false
		}
	}
	m.SetFinalizers(append(m.GetFinalizers(), want))
	return true
}

// gracePeriod is how long the object's deletion may take: only pods bound to a node
// get one (their kubelet must stop the containers); -1 means "not graceful".
func gracePeriod(obj runtime.Object, opts metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return -1
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return max(*opts.GracePeriodSeconds, 0)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}
