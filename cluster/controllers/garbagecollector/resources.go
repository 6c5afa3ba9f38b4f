package garbagecollector

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// resource is one kind the collector tracks, with the few client calls it needs.
type resource struct {
	gvk      schema.GroupVersionKind
	informer cache.SharedIndexInformer
	get      func(ctx context.Context, ns, name string) (metav1.Object, error)
	delete   func(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error
	patch    func(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error
	scan     bool // no owner index on a shared, already started informer
	// cluster: the kind is cluster-scoped (a Node). Namespaced objects may name such an
	// owner (a node's Lease is owned by its Node); the reverse is not allowed.
	cluster bool
}

// cached reads an object from the kind's informer; ns is ignored for cluster-scoped kinds.
func (r *resource) cached(ns, name string) (any, bool, error) {
	if r.cluster {
		return r.informer.GetIndexer().GetByKey(name)
	}
	return r.informer.GetIndexer().GetByKey(ns + "/" + name)
}

// objClient is what every typed namespaced client offers.
type objClient[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (T, error)
}

func mk[T metav1.Object](gvk schema.GroupVersionKind, inf cache.SharedIndexInformer, client func(ns string) objClient[T]) *resource {
	return &resource{
		gvk:      gvk,
		informer: inf,
		get: func(ctx context.Context, ns, name string) (metav1.Object, error) {
			return client(ns).Get(ctx, name, metav1.GetOptions{})
		},
		delete: func(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error {
			return client(ns).Delete(ctx, name, opts)
		},
		patch: func(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error {
			_, err := client(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{})
			return err
		},
	}
}

// resources lists every namespaced kind webkube's API server serves, and the
// cluster-scoped kinds that own namespaced objects.
func resources(c kubernetes.Interface, f informers.SharedInformerFactory) []*resource {
	core, apps := corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion
	return []*resource{
		mk(core.WithKind("Pod"), f.Core().V1().Pods().Informer(),
			func(ns string) objClient[*corev1.Pod] { return c.CoreV1().Pods(ns) }),
		mk(core.WithKind("ReplicationController"), f.Core().V1().ReplicationControllers().Informer(),
			func(ns string) objClient[*corev1.ReplicationController] { return c.CoreV1().ReplicationControllers(ns) }),
		mk(apps.WithKind("ReplicaSet"), f.Apps().V1().ReplicaSets().Informer(),
			func(ns string) objClient[*appsv1.ReplicaSet] { return c.AppsV1().ReplicaSets(ns) }),
		mk(apps.WithKind("Deployment"), f.Apps().V1().Deployments().Informer(),
			func(ns string) objClient[*appsv1.Deployment] { return c.AppsV1().Deployments(ns) }),
		mk(apps.WithKind("StatefulSet"), f.Apps().V1().StatefulSets().Informer(),
			func(ns string) objClient[*appsv1.StatefulSet] { return c.AppsV1().StatefulSets(ns) }),
		mk(apps.WithKind("DaemonSet"), f.Apps().V1().DaemonSets().Informer(),
			func(ns string) objClient[*appsv1.DaemonSet] { return c.AppsV1().DaemonSets(ns) }),
		mk(apps.WithKind("ControllerRevision"), f.Apps().V1().ControllerRevisions().Informer(),
			func(ns string) objClient[*appsv1.ControllerRevision] { return c.AppsV1().ControllerRevisions(ns) }),
		mk(core.WithKind("Service"), f.Core().V1().Services().Informer(),
			func(ns string) objClient[*corev1.Service] { return c.CoreV1().Services(ns) }),
		mk(core.WithKind("Endpoints"), f.Core().V1().Endpoints().Informer(),
			func(ns string) objClient[*corev1.Endpoints] { return c.CoreV1().Endpoints(ns) }),
		mk(discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), f.Discovery().V1().EndpointSlices().Informer(),
			func(ns string) objClient[*discoveryv1.EndpointSlice] { return c.DiscoveryV1().EndpointSlices(ns) }),
		mk(core.WithKind("PersistentVolumeClaim"), f.Core().V1().PersistentVolumeClaims().Informer(),
			func(ns string) objClient[*corev1.PersistentVolumeClaim] { return c.CoreV1().PersistentVolumeClaims(ns) }),
		mk(core.WithKind("ConfigMap"), f.Core().V1().ConfigMaps().Informer(),
			func(ns string) objClient[*corev1.ConfigMap] { return c.CoreV1().ConfigMaps(ns) }),
		mk(core.WithKind("Event"), f.Core().V1().Events().Informer(),
			func(ns string) objClient[*corev1.Event] { return c.CoreV1().Events(ns) }),
		mk(batchv1.SchemeGroupVersion.WithKind("Job"), f.Batch().V1().Jobs().Informer(),
			func(ns string) objClient[*batchv1.Job] { return c.BatchV1().Jobs(ns) }),
		mk(batchv1.SchemeGroupVersion.WithKind("CronJob"), f.Batch().V1().CronJobs().Informer(),
			func(ns string) objClient[*batchv1.CronJob] { return c.BatchV1().CronJobs(ns) }),
		mk(coordinationv1.SchemeGroupVersion.WithKind("Lease"), f.Coordination().V1().Leases().Informer(),
			func(ns string) objClient[*coordinationv1.Lease] { return c.CoordinationV1().Leases(ns) }),
		clusterScoped(mk(core.WithKind("Node"), f.Core().V1().Nodes().Informer(),
			func(string) objClient[*corev1.Node] { return c.CoreV1().Nodes() })),
	}
}

func clusterScoped(r *resource) *resource {
	r.cluster = true
	return r
}
