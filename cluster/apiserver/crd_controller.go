package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"webkube/cluster/crd"
	"webkube/cluster/store"
	"webkube/cluster/watchcache"
)

// The CRD controller does what kube-apiserver's naming, establishing and finalizing
// controllers do, level-based over every CRD at each change: a CRD whose names
// conflict with no older CRD's gets NamesAccepted, is compiled and served, then gets
// Established (so a client that waits for Established finds it served); a deleted CRD
// stops being served, its objects are deleted, then its finalizer is removed.

// crdRetry is how soon a pass runs again while a CRD waits (objects with finalizers
// being deleted, a failed write).
const crdRetry = time.Second

func (s *Server) runCRDController(ctx context.Context) {
	var from int64
	for ctx.Err() == nil {
		rev, retry, err := s.reconcileCRDs(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("crd controller: pass failed", "err", err)
			retry = true
		}
		if from == 0 || rev > from {
			from = rev
		}
		s.waitForCRDChange(ctx, from, retry)
	}
}

// waitForCRDChange returns at the next CRD write after revision from, or after
// crdRetry when retry is set.
func (s *Server) waitForCRDChange(ctx context.Context, from int64, retry bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timeout <-chan time.Time
	if retry {
		timeout = time.After(crdRetry)
	}
	events, err := s.store.Watch(wctx, crdResource.keyPrefix(), from)
	if err != nil {
		if !errors.Is(err, store.ErrClosed) && ctx.Err() == nil {
			s.log.Warn("crd controller: watch failed", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(crdRetry):
		}
		return
	}
	select {
	case <-ctx.Done():
	case <-events:
	case <-timeout:
	}
}

// reconcileCRDs runs one pass over every CRD, those whose names are accepted already
// first, then oldest first (they keep names a newer CRD asks for too, as kube's naming
// controller). retry: some CRD waits for something.
func (s *Server) reconcileCRDs(ctx context.Context) (rev int64, retry bool, err error) {
	kvs, rev, err := s.store.List(ctx, crdResource.listPrefix(""), 0)
	if err != nil {
		return 0, false, err
	}
	crds := make([]*apiextv1.CustomResourceDefinition, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := decodeKV(crdResource, kv)
		if err != nil {
			return rev, true, err
		}
		crds = append(crds, obj.(*apiextv1.CustomResourceDefinition))
	}
	sort.Slice(crds, func(i, j int) bool {
		if ai, aj := namesAccepted(crds[i]), namesAccepted(crds[j]); ai != aj {
			return ai
		}
		a, b := crds[i].CreationTimestamp, crds[j].CreationTimestamp
		return a.Before(&b) || (a.Equal(&b) && crds[i].Name < crds[j].Name)
	})
	taken := map[string]string{} // "group/name" → CRD holding it
	for _, c := range crds {
		again, err := s.reconcileCRD(ctx, c, taken)
		if err != nil {
			s.log.Warn("crd controller: reconciling", "crd", c.Name, "err", err)
			again = true
		}
		retry = retry || again
	}
	s.crds.forgetExcept(crds)
	return rev, retry, nil
}

func (s *Server) reconcileCRD(ctx context.Context, c *apiextv1.CustomResourceDefinition, taken map[string]string) (bool, error) {
	if c.DeletionTimestamp != nil {
		return s.finalizeCRD(ctx, c)
	}
	if conflict := claimNames(c, taken); conflict != "" {
		s.crds.set(c.Name, nil)
		return false, s.setCRDConditions(ctx, c, false, conflict)
	}
	if s.crds.servesGeneration(c) {
		return false, s.setCRDConditions(ctx, c, true, "")
	}
	versions, err := crd.Compile(c)
	if err != nil {
		s.crds.set(c.Name, nil)
		return false, s.setCRDConditions(ctx, c, false, err.Error())
	}
	conv, err := s.converters.For(c)
	if err != nil {
		s.crds.set(c.Name, nil)
		return false, s.setCRDConditions(ctx, c, false, err.Error())
	}
	served := customResources(versions, conv)
	s.crds.setServed(c, served)
	// The cached objects were decoded before (unserved, or from another storage
	// version): read them again as the storage version now serves them.
	storage := served[0]
	s.cache.Redecode(storage.prefix, func(kv store.KeyValue) (*watchcache.Object, error) { return cacheObject(storage, kv) })
	return false, s.setCRDConditions(ctx, c, true, "")
}

// claimNames records c's names in taken and returns why they conflict, if they do:
// with an older CRD of the same group, or with a group webkube serves itself.
func claimNames(c *apiextv1.CustomResourceDefinition, taken map[string]string) string {
	for _, gv := range groupVersions {
		if gv.Group == c.Spec.Group {
			return fmt.Sprintf("the group %q is served by the API server itself", c.Spec.Group)
		}
	}
	n := c.Spec.Names
	resources := sets.New(n.Plural, n.Singular)
	resources.Insert(n.ShortNames...)
	kinds := sets.New(n.Kind, n.ListKind)
	resources.Delete("")
	kinds.Delete("")
	for _, name := range sets.List(resources) {
		if other, ok := taken[c.Spec.Group+"/r/"+name]; ok && other != c.Name {
			return fmt.Sprintf("%q is already in use", name)
		}
	}
	for _, kind := range sets.List(kinds) {
		if other, ok := taken[c.Spec.Group+"/k/"+kind]; ok && other != c.Name {
			return fmt.Sprintf("%q is already in use", kind)
		}
	}
	for _, name := range sets.List(resources) {
		taken[c.Spec.Group+"/r/"+name] = c.Name
	}
	for _, kind := range sets.List(kinds) {
		taken[c.Spec.Group+"/k/"+kind] = c.Name
	}
	return ""
}

// setCRDConditions writes NamesAccepted and Established (and acceptedNames) when they
// are not what they should be already.
func (s *Server) setCRDConditions(ctx context.Context, c *apiextv1.CustomResourceDefinition, ok bool, problem string) error {
	now := metav1.NewTime(s.clock.Now().Truncate(time.Second))
	want := []apiextv1.CustomResourceDefinitionCondition{
		{Type: apiextv1.NamesAccepted, Status: apiextv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found"},
		{Type: apiextv1.Established, Status: apiextv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted"},
	}
	if !ok {
		want[0] = apiextv1.CustomResourceDefinitionCondition{Type: apiextv1.NamesAccepted, Status: apiextv1.ConditionFalse, Reason: "NotAccepted", Message: problem}
		want[1] = apiextv1.CustomResourceDefinitionCondition{Type: apiextv1.Established, Status: apiextv1.ConditionFalse, Reason: "NotAccepted", Message: "not all names are accepted"}
	}
	if conditionsMatch(c.Status.Conditions, want) && (!ok || equalNames(c.Status.AcceptedNames, c.Spec.Names)) {
		return nil
	}
	_, err := s.update(ctx, crdResource, "", c.Name, "status", false, func(cur runtime.Object) (runtime.Object, error) {
		cc := cur.(*apiextv1.CustomResourceDefinition)
		if cc.UID != c.UID {
			return nil, apierrors.NewConflict(crdResource.gr(), c.Name, errors.New("the CRD was replaced"))
		}
		for _, w := range want {
			w.LastTransitionTime = now
			setCRDCondition(&cc.Status, w)
		}
		if ok {
			cc.Status.AcceptedNames = cc.Spec.Names
		}
		return cc, nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func namesAccepted(c *apiextv1.CustomResourceDefinition) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == apiextv1.NamesAccepted {
			return cond.Status == apiextv1.ConditionTrue
		}
	}
	return false
}

func equalNames(a, b apiextv1.CustomResourceDefinitionNames) bool {
	return a.Plural == b.Plural && a.Singular == b.Singular && a.Kind == b.Kind && a.ListKind == b.ListKind &&
		strings.Join(a.ShortNames, ",") == strings.Join(b.ShortNames, ",") && strings.Join(a.Categories, ",") == strings.Join(b.Categories, ",")
}

func conditionsMatch(have, want []apiextv1.CustomResourceDefinitionCondition) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Type == w.Type && h.Status == w.Status && h.Reason == w.Reason && h.Message == w.Message {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// setCRDCondition sets a condition, keeping its transition time when its status stays.
func setCRDCondition(st *apiextv1.CustomResourceDefinitionStatus, c apiextv1.CustomResourceDefinitionCondition) {
	for i, h := range st.Conditions {
		if h.Type == c.Type {
			if h.Status == c.Status {
				c.LastTransitionTime = h.LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// finalizeCRD stops serving a deleted CRD, deletes its objects (honouring their own
// finalizers) and, once none is left, removes its cleanup finalizer.
func (s *Server) finalizeCRD(ctx context.Context, c *apiextv1.CustomResourceDefinition) (bool, error) {
	s.crds.set(c.Name, nil)
	if !hasFinalizer(c.Finalizers, crd.CleanupFinalizer) {
		return false, nil
	}
	left, err := s.deleteCustomObjects(ctx, c)
	if err != nil || left > 0 {
		return true, err
	}
	_, err = s.update(ctx, crdResource, "", c.Name, "", false, func(cur runtime.Object) (runtime.Object, error) {
		cc := cur.(*apiextv1.CustomResourceDefinition)
		var keep []string
		for _, f := range cc.Finalizers {
			if f != crd.CleanupFinalizer {
				keep = append(keep, f)
			}
		}
		cc.Finalizers = keep
		return cc, nil
	})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

func hasFinalizer(fs []string, f string) bool {
	for _, have := range fs {
		if have == f {
			return true
		}
	}
	return false
}

// deleteCustomObjects deletes every object of c and returns how many are left (those
// whose finalizers still hold them).
func (s *Server) deleteCustomObjects(ctx context.Context, c *apiextv1.CustomResourceDefinition) (int, error) {
	versions, err := crd.Compile(c)
	if err != nil || len(versions) == 0 {
		return 0, err
	}
	r := customResource(versions[0]) // the storage version
	kvs, _, err := s.store.List(ctx, r.listPrefix(""), 0)
	if err != nil {
		return 0, err
	}
	for _, kv := range kvs {
		obj, err := decodeKV(r, kv)
		if err != nil {
			return 0, err
		}
		m := mustMeta(obj)
		if _, err := s.delete(ctx, r, m.GetNamespace(), m.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
	}
	kvs, _, err = s.store.List(ctx, r.listPrefix(""), 0)
	return len(kvs), err
}
