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
	if r.gvr.Resource == "namespaces" {
		if name == "default" || name == "kube-system" || name == "kube-public" {
			return nil, apierrors.NewForbidden(r.gr(), name, errors.New("this namespace may not be deleted"))
		}
		s.activeNS.forget(name)
		defer s.activeNS.forget(name)
	}
	// Another writer may change the object between our read and our write (the store
	// then refuses the write): read it again and decide again, as kube-apiserver does.
	for attempt := 0; attempt < 20; attempt++ {
		out, err := s.tryDelete(ctx, r, ns, name, opts)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return out, err
	}
	return nil, conflict(r, name)
}

// deleteStep is what one delete request does to the stored object.
type deleteStep int

const (
	deleteNow  deleteStep = iota // remove it from the store
	deleteMark                   // store it marked for deletion; someone else finishes
	deleteWait                   // it is already being deleted: nothing to write
)

// tryDelete reads the object once and writes against the revision it read; a
// store.ErrConflict it returns means another writer came first.
func (s *Server) tryDelete(ctx context.Context, r *resource, ns, name string, opts metav1.DeleteOptions) (runtime.Object, error) {
	cur, kv, err := s.getObject(ctx, r, ns, name)
	if err != nil {
		return nil, err
	}
	if err := checkPreconditions(r, name, mustMeta(cur), opts.Preconditions); err != nil {
		return nil, err
	}
	step := markForDeletion(cur, opts, s.clock.Now().Truncate(time.Second))
	if step == deleteWait || len(opts.DryRun) > 0 {
		return cur, nil // a dry run answers with the object as deleting would leave it
	}
	write := s.removeObject
	if step == deleteMark {
		write = s.storeMarked
	}
	err = write(ctx, r, r.key(ns, name), cur, kv.ModRevision)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, err
	case err != nil:
		return nil, storeErr(r, name, err)
	}
	return cur, nil
}

// checkPreconditions refuses the delete when the client's DeleteOptions name another
// UID or resourceVersion than the stored object has (same messages as kube-apiserver).
func checkPreconditions(r *resource, name string, m metav1.Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(r.gr(), name,
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(r.gr(), name,
			fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// markForDeletion decides what deleting obj does now and, unless it is removed at once,
// sets its finalizers, deletionTimestamp and grace period in place.
func markForDeletion(obj runtime.Object, opts metav1.DeleteOptions, now time.Time) deleteStep {
	m := mustMeta(obj)
	changed := addDeletionFinalizers(m, opts)
	grace := gracePeriod(obj, opts)
	if ns, ok := obj.(*corev1.Namespace); ok {
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
		return shortenGrace(m, grace, now)
	case len(m.GetFinalizers()) > 0 || grace > 0 || changed:
		if m.GetDeletionTimestamp() == nil {
			setDeletion(m, max(grace, 0), now)
			if m.GetGeneration() > 0 {
				m.SetGeneration(m.GetGeneration() + 1)
			}
		}
		return deleteMark
	}
	return deleteNow
}

// shortenGrace handles a delete of an object already being deleted. A shorter grace
// period (the kubelet's final delete with 0) moves it along; otherwise nothing to do.
func shortenGrace(m metav1.Object, grace int64, now time.Time) deleteStep {
	cg := m.GetDeletionGracePeriodSeconds()
	if grace < 0 || cg == nil || grace >= *cg {
		return deleteWait
	}
	if grace == 0 && len(m.GetFinalizers()) == 0 {
		return deleteNow
	}
	setDeletion(m, grace, now)
	return deleteMark
}

// setDeletion marks m as deleted once grace seconds from now have passed.
func setDeletion(m metav1.Object, grace int64, now time.Time) {
	m.SetDeletionGracePeriodSeconds(&grace)
	m.SetDeletionTimestamp(&metav1.Time{Time: now.Add(time.Duration(grace) * time.Second)})
}

// storeMarked writes obj, marked for deletion, over revision rev.
func (s *Server) storeMarked(ctx context.Context, r *resource, key string, obj runtime.Object, rev int64) error {
	data, err := encodeForStore(obj)
	if err != nil {
		return err
	}
	newRev, err := s.store.Update(ctx, key, data, rev)
	if err != nil {
		return err
	}
	setRV(obj, newRev)
	if r.gvr.Resource == "namespaces" {
		s.kickNamespaceFinalizer() // it deletes the contents, then the namespace
	}
	return nil
}

// removeObject deletes obj's row if it is still at revision rev.
func (s *Server) removeObject(ctx context.Context, _ *resource, key string, obj runtime.Object, rev int64) error {
	kv, err := s.store.Delete(ctx, key, rev)
	if err != nil {
		return err
	}
	s.releaseService(obj) // a Service frees its cluster IPs and node ports
	setRV(obj, kv.ModRevision)
	return nil
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
