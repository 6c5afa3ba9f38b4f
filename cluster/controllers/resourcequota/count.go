package resourcequota

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/admission/quota"
)

// lister lists one namespace's objects of a counted kind from the informer cache.
type lister func(ns string) ([]runtime.Object, error)

// watchCounted adds the informers of the kinds quotas count by more than their number,
// and recounts a namespace's quotas when one of those objects goes (or a pod finishes),
// as kube's replenishment does.
func (c *Controller) watchCounted() error {
	f := c.cfg.Informers.Core().V1()
	type kind struct {
		gr   schema.GroupResource
		inf  cache.SharedIndexInformer
		list lister
	}
	kinds := []kind{
		{schema.GroupResource{Resource: "pods"}, f.Pods().Informer(), func(ns string) ([]runtime.Object, error) {
			l, err := f.Pods().Lister().Pods(ns).List(labels.Everything())
			return objects(l), err
		}},
		{schema.GroupResource{Resource: "services"}, f.Services().Informer(), func(ns string) ([]runtime.Object, error) {
			l, err := f.Services().Lister().Services(ns).List(labels.Everything())
			return objects(l), err
		}},
		{schema.GroupResource{Resource: "persistentvolumeclaims"}, f.PersistentVolumeClaims().Informer(), func(ns string) ([]runtime.Object, error) {
			l, err := f.PersistentVolumeClaims().Lister().PersistentVolumeClaims(ns).List(labels.Everything())
			return objects(l), err
		}},
	}
	c.typed = map[schema.GroupResource]lister{}
	for _, k := range kinds {
		c.typed[k.gr] = k.list
		c.synced = append(c.synced, k.inf.HasSynced)
		if _, err := k.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(old, cur any) {
				if p, ok := cur.(*corev1.Pod); ok && quota.Counted(old.(*corev1.Pod), c.cfg.Clock.Now()) != quota.Counted(p, c.cfg.Clock.Now()) {
					c.replenish(p.Namespace)
				}
			},
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				if o, ok := obj.(interface{ GetNamespace() string }); ok {
					c.replenish(o.GetNamespace())
				}
			},
		}); err != nil {
			return fmt.Errorf("resourcequota: handler: %w", err)
		}
	}
	return nil
}

func objects[T runtime.Object](l []T) []runtime.Object {
	out := make([]runtime.Object, len(l))
	for i, o := range l {
		out[i] = o
	}
	return out
}

// usage counts what quota q's hard resources are used by in its namespace; every hard
// resource gets an entry (0 when nothing uses it), as kube's status.used.
func (c *Controller) usage(ctx context.Context, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	total := corev1.ResourceList{}
	covered := map[corev1.ResourceName]bool{}
	now := c.cfg.Clock.Now()
	for gr, list := range c.typed {
		names := quota.Matching(gr, q.Spec.Hard)
		if len(names) == 0 {
			continue
		}
		objs, err := list(q.Namespace)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if quota.Applies(q, gr, o) {
				total = quota.Add(total, quota.Mask(quota.Usage(gr, o, now), names))
			}
		}
		for _, n := range names {
			covered[n] = true
		}
	}
	for name := range q.Spec.Hard {
		if covered[name] {
			continue
		}
		gr, ok := countedResource(name)
		if !ok {
			continue
		}
		n, err := c.counts.count(ctx, gr, q.Namespace)
		if err != nil {
			return nil, err
		}
		total[name] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	used := corev1.ResourceList{}
	for name := range q.Spec.Hard {
		used[name] = total[name]
		if _, ok := total[name]; !ok {
			used[name] = *resource.NewQuantity(0, resource.DecimalSI)
		}
	}
	return used, nil
}

// countedResource reads the kind an object-count name counts: count/deployments.apps,
// count/configmaps, or the legacy configmaps, secrets, resourcequotas.
func countedResource(name corev1.ResourceName) (schema.GroupResource, bool) {
	s := string(name)
	if rest, ok := strings.CutPrefix(s, "count/"); ok {
		res, group, _ := strings.Cut(rest, ".")
		return schema.GroupResource{Group: group, Resource: res}, res != ""
	}
	switch name {
	case corev1.ResourceConfigMaps, corev1.ResourceSecrets, corev1.ResourceQuotas, corev1.ResourceReplicationControllers:
		return schema.GroupResource{Resource: s}, true
	}
	return schema.GroupResource{}, false
}

// counter counts a namespace's objects of any served kind by listing it (kube's
// controller uses an informer per counted kind; a list per recount is enough here).
type counter struct {
	client   kubernetes.Interface
	mu       sync.Mutex
	versions map[string]string // group → preferred version
}

func (c *counter) count(ctx context.Context, gr schema.GroupResource, ns string) (int64, error) {
	path, err := c.path(gr, ns)
	if err != nil || path == "" {
		return 0, err
	}
	raw, err := c.client.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return 0, err
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, err
	}
	return int64(len(list.Items)), nil
}

// path is the list URL of gr in ns, "" for a group the server does not serve.
func (c *counter) path(gr schema.GroupResource, ns string) (string, error) {
	if gr.Group == "" {
		return "/api/v1/namespaces/" + ns + "/" + gr.Resource, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.versions[gr.Group]; !ok {
		groups, err := c.client.Discovery().ServerGroups()
		if err != nil {
			return "", err
		}
		c.versions = map[string]string{}
		for _, g := range groups.Groups {
			c.versions[g.Name] = g.PreferredVersion.Version
		}
	}
	v, ok := c.versions[gr.Group]
	if !ok {
		return "", nil
	}
	return "/apis/" + gr.Group + "/" + v + "/namespaces/" + ns + "/" + gr.Resource, nil
}
