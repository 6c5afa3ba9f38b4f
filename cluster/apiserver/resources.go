package apiserver

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"webkube/cluster/crd"
	"webkube/cluster/hpaconv"
)

// resource describes one REST resource: where it lives in the URL space, which Go type
// holds it, and what the discovery documents say about it.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	singular   string
	namespaced bool
	shortNames []string
	categories []string
	// subresources served under the object URL, e.g. "status", "scale".
	subresources []string
	newObj       func() runtime.Object
	newList      func() runtime.Object
	// fields returns the values field selectors may test, beyond metadata.name and
	// metadata.namespace which every resource has.
	fields func(obj runtime.Object) fields.Set
	// hasStatus: the main resource ignores status changes and status has its own
	// subresource, as for kube-apiserver's status strategies.
	hasStatus bool
	// bumpGeneration: spec changes increment metadata.generation.
	bumpGeneration bool
	// review: only created and answered, never stored (SelfSubjectAccessReview, TokenReview…).
	review bool
	// metrics: made on each read from the kubelets (metrics.k8s.io), never stored.
	metrics bool
	// view: objects of r are another resource's stored objects in r's shape
	// (events.k8s.io/v1 Events are core/v1 Events); requests are served through it.
	view *view
	// custom: a version of a CustomResourceDefinition (objects are unstructured);
	// prefix, when set, is where its objects are stored (all versions share it).
	custom *crd.Version
	prefix string
	// conv converts a custom object stored in another version of its CRD (stored
	// before the storage version changed) when it is read.
	conv *crd.Converter
}

// stored: objects of r live in the store (and the watch cache).
func (r *resource) stored() bool { return !r.review && !r.metrics && r.view == nil }

func (r *resource) gvk() schema.GroupVersionKind {
	return r.gvr.GroupVersion().WithKind(r.kind)
}

func (r *resource) gr() schema.GroupResource { return r.gvr.GroupResource() }

// keyPrefix is the store prefix holding every object of r; objects of one namespace
// live under keyPrefix + namespace + "/".
func (r *resource) keyPrefix() string {
	if r.prefix != "" {
		return r.prefix
	}
	g := r.gvr.Group
	if g == "" {
		g = "core"
	}
	return "/registry/" + g + "/" + r.gvr.Resource + "/"
}

func (r *resource) key(namespace, name string) string {
	if r.namespaced {
		return r.keyPrefix() + namespace + "/" + name
	}
	return r.keyPrefix() + name
}

// listPrefix is the prefix for a list in namespace ("" = all namespaces).
func (r *resource) listPrefix(namespace string) string {
	if r.namespaced && namespace != "" {
		return r.keyPrefix() + namespace + "/"
	}
	return r.keyPrefix()
}

func (r *resource) hasSub(sub string) bool {
	for _, s := range r.subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// KeyFor returns the store key webkube uses for an object, so other packages (the
// dashboard, tests) can find it in the revision log without guessing the layout.
func KeyFor(gr schema.GroupResource, namespace, name string) (string, error) {
	for _, r := range resourceTable {
		if r.gr() == gr {
			return r.key(namespace, name), nil
		}
	}
	return "", fmt.Errorf("unknown resource %s", gr)
}

var (
	coreV1      = corev1.SchemeGroupVersion
	appsV1      = appsv1.SchemeGroupVersion
	discoveryV1 = discoveryv1.SchemeGroupVersion
	batchV1     = batchv1.SchemeGroupVersion
	storageV1   = storagev1.SchemeGroupVersion
	// coordination.k8s.io: the nodes' Leases (their heartbeats).
	coordinationV1 = coordinationv1.SchemeGroupVersion
	autoscalingV2  = autoscalingv2.SchemeGroupVersion
	autoscalingV1  = autoscalingv1.SchemeGroupVersion
)

// resourceTable lists every resource webkube serves.
var resourceTable = []*resource{
	{
		gvr: coreV1.WithResource("namespaces"), kind: "Namespace", singular: "namespace",
		shortNames: []string{"ns"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.Namespace{} }, newList: func() runtime.Object { return &corev1.NamespaceList{} },
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
		},
	},
	{
		gvr: coreV1.WithResource("nodes"), kind: "Node", singular: "node",
		shortNames: []string{"no"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.Node{} }, newList: func() runtime.Object { return &corev1.NodeList{} },
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": fmt.Sprint(o.(*corev1.Node).Spec.Unschedulable)}
		},
	},
	{
		gvr: coreV1.WithResource("pods"), kind: "Pod", singular: "pod", namespaced: true,
		shortNames: []string{"po"}, categories: []string{"all"},
		subresources: []string{"status", "binding", "log", "exec", "attach", "portforward", "ephemeralcontainers"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.Pod{} }, newList: func() runtime.Object { return &corev1.PodList{} },
		fields: func(o runtime.Object) fields.Set {
			p := o.(*corev1.Pod)
			// Sized for these and fieldSet's two metadata fields: every pod the watch
			// cache holds keeps this map, built once per write.
			set := make(fields.Set, 10)
			set["spec.nodeName"] = p.Spec.NodeName
			set["spec.restartPolicy"] = string(p.Spec.RestartPolicy)
			set["spec.schedulerName"] = p.Spec.SchedulerName
			set["spec.serviceAccountName"] = p.Spec.ServiceAccountName
			set["spec.hostNetwork"] = strconv.FormatBool(p.Spec.HostNetwork)
			set["status.phase"] = string(p.Status.Phase)
			set["status.podIP"] = p.Status.PodIP
			set["status.nominatedNodeName"] = p.Status.NominatedNodeName
			return set
		},
	},
	{
		gvr: coreV1.WithResource("services"), kind: "Service", singular: "service", namespaced: true,
		shortNames: []string{"svc"}, categories: []string{"all"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.Service{} }, newList: func() runtime.Object { return &corev1.ServiceList{} },
		fields: func(o runtime.Object) fields.Set {
			s := o.(*corev1.Service)
			return fields.Set{"spec.type": string(s.Spec.Type), "spec.clusterIP": s.Spec.ClusterIP}
		},
	},
	{
		gvr: coreV1.WithResource("endpoints"), kind: "Endpoints", singular: "endpoints", namespaced: true,
		shortNames: []string{"ep"},
		newObj:     func() runtime.Object { return &corev1.Endpoints{} }, newList: func() runtime.Object { return &corev1.EndpointsList{} },
	},
	{
		gvr: coreV1.WithResource("events"), kind: "Event", singular: "event", namespaced: true,
		shortNames: []string{"ev"},
		newObj:     func() runtime.Object { return &corev1.Event{} }, newList: func() runtime.Object { return &corev1.EventList{} },
		fields: func(o runtime.Object) fields.Set {
			e := o.(*corev1.Event)
			return fields.Set{
				"involvedObject.kind":            e.InvolvedObject.Kind,
				"involvedObject.namespace":       e.InvolvedObject.Namespace,
				"involvedObject.name":            e.InvolvedObject.Name,
				"involvedObject.uid":             string(e.InvolvedObject.UID),
				"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
				"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
				"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
				"reason":                         e.Reason,
				"reportingComponent":             e.ReportingController,
				"source":                         e.Source.Component,
				"type":                           e.Type,
			}
		},
	},
	{
		gvr: coreV1.WithResource("configmaps"), kind: "ConfigMap", singular: "configmap", namespaced: true,
		shortNames: []string{"cm"},
		newObj:     func() runtime.Object { return &corev1.ConfigMap{} }, newList: func() runtime.Object { return &corev1.ConfigMapList{} },
	},
	{
		gvr: coreV1.WithResource("secrets"), kind: "Secret", singular: "secret", namespaced: true,
		newObj: func() runtime.Object { return &corev1.Secret{} }, newList: func() runtime.Object { return &corev1.SecretList{} },
		fields: func(o runtime.Object) fields.Set { return fields.Set{"type": string(o.(*corev1.Secret).Type)} },
	},
	{
		gvr: coreV1.WithResource("resourcequotas"), kind: "ResourceQuota", singular: "resourcequota", namespaced: true,
		shortNames: []string{"quota"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.ResourceQuota{} }, newList: func() runtime.Object { return &corev1.ResourceQuotaList{} },
	},
	{
		gvr: coreV1.WithResource("limitranges"), kind: "LimitRange", singular: "limitrange", namespaced: true,
		shortNames: []string{"limits"},
		newObj:     func() runtime.Object { return &corev1.LimitRange{} }, newList: func() runtime.Object { return &corev1.LimitRangeList{} },
	},
	{
		gvr: coreV1.WithResource("serviceaccounts"), kind: "ServiceAccount", singular: "serviceaccount", namespaced: true,
		shortNames: []string{"sa"}, subresources: []string{"token"},
		newObj: func() runtime.Object { return &corev1.ServiceAccount{} }, newList: func() runtime.Object { return &corev1.ServiceAccountList{} },
	},
	{
		gvr: appsV1.WithResource("replicasets"), kind: "ReplicaSet", singular: "replicaset", namespaced: true,
		shortNames: []string{"rs"}, categories: []string{"all"}, subresources: []string{"status", "scale"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &appsv1.ReplicaSet{} }, newList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"status.replicas": fmt.Sprint(o.(*appsv1.ReplicaSet).Status.Replicas)}
		},
	},
	{
		gvr: appsV1.WithResource("deployments"), kind: "Deployment", singular: "deployment", namespaced: true,
		shortNames: []string{"deploy"}, categories: []string{"all"}, subresources: []string{"status", "scale"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &appsv1.Deployment{} }, newList: func() runtime.Object { return &appsv1.DeploymentList{} },
	},
	{
		gvr: appsV1.WithResource("statefulsets"), kind: "StatefulSet", singular: "statefulset", namespaced: true,
		shortNames: []string{"sts"}, categories: []string{"all"}, subresources: []string{"status", "scale"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &appsv1.StatefulSet{} }, newList: func() runtime.Object { return &appsv1.StatefulSetList{} },
	},
	{
		gvr: appsV1.WithResource("daemonsets"), kind: "DaemonSet", singular: "daemonset", namespaced: true,
		shortNames: []string{"ds"}, categories: []string{"all"}, subresources: []string{"status"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &appsv1.DaemonSet{} }, newList: func() runtime.Object { return &appsv1.DaemonSetList{} },
	},
	{
		gvr: appsV1.WithResource("controllerrevisions"), kind: "ControllerRevision", singular: "controllerrevision", namespaced: true,
		newObj: func() runtime.Object { return &appsv1.ControllerRevision{} }, newList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
	},
	{
		gvr: discoveryV1.WithResource("endpointslices"), kind: "EndpointSlice", singular: "endpointslice", namespaced: true,
		bumpGeneration: true, // generation 1 on create, as kube-apiserver's strategy
		newObj:         func() runtime.Object { return &discoveryv1.EndpointSlice{} }, newList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
	},
	{
		gvr: batchV1.WithResource("jobs"), kind: "Job", singular: "job", namespaced: true,
		categories: []string{"all"}, subresources: []string{"status"}, hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &batchv1.Job{} }, newList: func() runtime.Object { return &batchv1.JobList{} },
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"status.successful": fmt.Sprint(o.(*batchv1.Job).Status.Succeeded)}
		},
	},
	{
		gvr: batchV1.WithResource("cronjobs"), kind: "CronJob", singular: "cronjob", namespaced: true,
		shortNames: []string{"cj"}, categories: []string{"all"}, subresources: []string{"status"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &batchv1.CronJob{} }, newList: func() runtime.Object { return &batchv1.CronJobList{} },
	},
	{
		gvr: coreV1.WithResource("persistentvolumes"), kind: "PersistentVolume", singular: "persistentvolume",
		shortNames: []string{"pv"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.PersistentVolume{} }, newList: func() runtime.Object { return &corev1.PersistentVolumeList{} },
	},
	{
		gvr: coreV1.WithResource("persistentvolumeclaims"), kind: "PersistentVolumeClaim", singular: "persistentvolumeclaim",
		namespaced: true, shortNames: []string{"pvc"}, subresources: []string{"status"}, hasStatus: true,
		newObj: func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, newList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
	},
	{
		gvr: storageV1.WithResource("storageclasses"), kind: "StorageClass", singular: "storageclass",
		shortNames: []string{"sc"},
		newObj:     func() runtime.Object { return &storagev1.StorageClass{} }, newList: func() runtime.Object { return &storagev1.StorageClassList{} },
	},
	{
		gvr: autoscalingV2.WithResource("horizontalpodautoscalers"), kind: "HorizontalPodAutoscaler", singular: "horizontalpodautoscaler",
		namespaced: true, shortNames: []string{"hpa"}, categories: []string{"all"}, subresources: []string{"status"},
		hasStatus: true, bumpGeneration: true,
		newObj: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} }, newList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
	},
	{
		gvr: coordinationV1.WithResource("leases"), kind: "Lease", singular: "lease", namespaced: true,
		newObj: func() runtime.Object { return &coordinationv1.Lease{} }, newList: func() runtime.Object { return &coordinationv1.LeaseList{} },
	},
}

// hpaV1Resource: autoscaling/v1 HorizontalPodAutoscalers (what `kubectl autoscale`
// writes) are the stored autoscaling/v2 ones, converted as kube-apiserver does.
var hpaV1Resource = &resource{
	gvr: autoscalingV1.WithResource("horizontalpodautoscalers"), kind: "HorizontalPodAutoscaler", singular: "horizontalpodautoscaler",
	namespaced: true, shortNames: []string{"hpa"}, categories: []string{"all"}, subresources: []string{"status"},
	view: &view{
		of: autoscalingV2.WithResource("horizontalpodautoscalers"),
		toStored: func(o runtime.Object) (runtime.Object, error) {
			return hpaconv.ToV2(o.(*autoscalingv1.HorizontalPodAutoscaler))
		},
		fromStored: func(o runtime.Object) (runtime.Object, error) {
			return hpaconv.ToV1(o.(*autoscalingv2.HorizontalPodAutoscaler))
		},
	},
	newObj: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} }, newList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
}

// groupVersions in the order discovery lists them; a group's first version is its
// preferred one.
var groupVersions = []schema.GroupVersion{coreV1, appsV1, discoveryV1, batchV1, storageV1, coordinationV1, autoscalingV2, autoscalingV1, eventsV1, authenticationV1, authorizationV1, rbacV1, metricsV1beta1}

func init() {
	resourceTable = append(append(append(resourceTable, reviewResources...), rbacResources...), metricsResources...)
	resourceTable = append(resourceTable, eventsV1Resource, hpaV1Resource)
}

func findResource(gv schema.GroupVersion, name string) *resource {
	for _, r := range resourceTable {
		if r.gvr.GroupVersion() == gv && r.gvr.Resource == name {
			return r
		}
	}
	return nil
}

func resourceFor(gr schema.GroupResource) *resource {
	return resourcesByGR()[gr]
}

// resourcesByGR indexes resourceTable, once every file's init has added its resources
// (resourceFor runs only when serving): a pod create looks up four resources, and the
// table has over a hundred.
var resourcesByGR = sync.OnceValue(func() map[schema.GroupResource]*resource {
	m := make(map[schema.GroupResource]*resource, len(resourceTable))
	for _, r := range resourceTable {
		if _, ok := m[r.gr()]; !ok { // the first, as the table's order gave before
			m[r.gr()] = r
		}
	}
	return m
})

// fieldSet is what a field selector may match for obj.
func (r *resource) fieldSet(obj runtime.Object, m metav1.Object) fields.Set {
	var set fields.Set
	if r.fields != nil {
		set = r.fields(obj)
	} else {
		set = make(fields.Set, 2)
	}
	set["metadata.name"] = m.GetName()
	if r.namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set
}

// checkFieldSelector rejects a selector naming a field the resource does not index,
// with kube-apiserver's message.
func (r *resource) checkFieldSelector(sel fields.Selector) error {
	known := r.fieldSet(r.newObj(), &metav1.ObjectMeta{})
	for _, req := range sel.Requirements() {
		if _, ok := known[req.Field]; !ok {
			return badRequest(fmt.Sprintf("field label not supported: %s", req.Field))
		}
	}
	return nil
}

func (r *resource) String() string {
	return strings.TrimPrefix(r.gvr.Group+"/"+r.gvr.Version+"/"+r.gvr.Resource, "/")
}
