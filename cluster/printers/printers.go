// Package printers turns objects into the rows `kubectl get` shows: the server-side
// meta.k8s.io/v1 Table, with the same columns a real cluster prints.
//
// Columns and cell logic follow kubernetes' pkg/printers/internalversion/printers.go. As
// kube-apiserver does, rows always carry every column, the -o wide ones (priority 1)
// included; kubectl hides those unless asked. Cells are strings and int64s, so they
// marshal to JSON the way a real cluster's do.
package printers

import (
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	ageColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
)

func col(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc}
}

func wide(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: 1}
}

var columns = map[schema.GroupResource][]metav1.TableColumnDefinition{
	{Resource: "pods"}: {
		nameColumn,
		col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
		col("Status", "string", "The aggregate status of the containers in this pod."),
		col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn,
		wide("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]),
		wide("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
		wide("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
		wide("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
	},
	{Group: "apps", Resource: "replicasets"}: {
		nameColumn,
		col("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
		col("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
		col("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
	},
	{Group: "apps", Resource: "deployments"}: {
		nameColumn,
		col("Ready", "string", "Number of the pod with ready state"),
		col("Up-to-date", "integer", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
		col("Available", "integer", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
		ageColumn,
		wide("Containers", "string", "Names of each container in the template."),
		wide("Images", "string", "Images referenced by each container in the template."),
		wide("Selector", "string", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	},
	{Resource: "services"}: {
		nameColumn,
		col("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
		col("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
		col("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
		col("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
		ageColumn,
		wide("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
	},
	{Resource: "endpoints"}: {
		nameColumn,
		col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn,
	},
	{Group: "discovery.k8s.io", Resource: "endpointslices"}: {
		nameColumn,
		col("AddressType", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]),
		col("Ports", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]),
		col("Endpoints", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
		ageColumn,
	},
	{Resource: "nodes"}: {
		nameColumn,
		col("Status", "string", "The status of the node"),
		col("Roles", "string", "The roles of the node"),
		ageColumn,
		col("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
		wide("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wide("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wide("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
		wide("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
		wide("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
	},
	{Resource: "namespaces"}: {
		nameColumn,
		col("Status", "string", "The status of the namespace"),
		ageColumn,
	},
	{Resource: "events"}: {
		col("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
		col("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
		col("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
		col("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
		wide("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
		wide("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
		col("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
		wide("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
		wide("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
		{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	},
	{Resource: "configmaps"}: {
		nameColumn,
		col("Data", "integer", corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn,
	},
	{Resource: "secrets"}: {
		nameColumn,
		col("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
		col("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
		ageColumn,
	},
	{Resource: "serviceaccounts"}: {
		nameColumn,
		col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn,
	},
	{Group: "autoscaling", Resource: "horizontalpodautoscalers"}: {
		nameColumn,
		col("Reference", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]),
		col("Targets", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]),
		col("MinPods", "string", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]),
		col("MaxPods", "integer", autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]),
		col("Replicas", "integer", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
		ageColumn,
	},
	{Group: "coordination.k8s.io", Resource: "leases"}: {
		nameColumn,
		col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn,
	},
}

// Columns returns the table columns for a resource (priority 1 = only with -o wide).
func Columns(gr schema.GroupResource) []metav1.TableColumnDefinition {
	if cols, ok := columns[gr]; ok {
		return append([]metav1.TableColumnDefinition(nil), cols...)
	}
	return []metav1.TableColumnDefinition{nameColumn, ageColumn}
}

// Cells returns one row's cells for obj, matching Columns of its resource. now is used
// for ages so tests can fix the clock.
func Cells(obj runtime.Object, now time.Time) []interface{} {
	switch o := obj.(type) {
	case *corev1.Pod:
		return podCells(o, now)
	case *appsv1.ReplicaSet:
		return replicaSetCells(o, now)
	case *corev1.ReplicationController:
		return replicationControllerCells(o, now)
	case *certificatesv1.CertificateSigningRequest:
		return csrCells(o, now)
	case *appsv1.Deployment:
		return deploymentCells(o, now)
	case *corev1.Service:
		return serviceCells(o, now)
	case *corev1.Endpoints:
		return []interface{}{o.Name, formatEndpoints(o), age(o.CreationTimestamp, now)}
	case *discoveryv1.EndpointSlice:
		return []interface{}{o.Name, string(o.AddressType), formatSlicePorts(o.Ports), formatSliceEndpoints(o.Endpoints), age(o.CreationTimestamp, now)}
	case *corev1.Node:
		return nodeCells(o, now)
	case *corev1.Namespace:
		return []interface{}{o.Name, string(o.Status.Phase), age(o.CreationTimestamp, now)}
	case *corev1.Event:
		return eventCells(o, now)
	case *corev1.ConfigMap:
		return []interface{}{o.Name, int64(len(o.Data) + len(o.BinaryData)), age(o.CreationTimestamp, now)}
	case *appsv1.StatefulSet:
		return statefulSetCells(o, now)
	case *appsv1.DaemonSet:
		return daemonSetCells(o, now)
	case *appsv1.ControllerRevision:
		return controllerRevisionCells(o, now)
	case *batchv1.Job:
		return jobCells(o, now)
	case *batchv1.CronJob:
		return cronJobCells(o, now)
	case *corev1.Secret:
		return []interface{}{o.Name, string(o.Type), int64(len(o.Data)), age(o.CreationTimestamp, now)}
	case *corev1.ServiceAccount:
		return []interface{}{o.Name, int64(len(o.Secrets)), age(o.CreationTimestamp, now)}
	case *corev1.PersistentVolume:
		return persistentVolumeCells(o, now)
	case *corev1.PersistentVolumeClaim:
		return persistentVolumeClaimCells(o, now)
	case *storagev1.StorageClass:
		return storageClassCells(o, now)
	case *corev1.ResourceQuota:
		return resourceQuotaCells(o, now)
	case *policyv1.PodDisruptionBudget:
		return pdbCells(o, now)
	case *schedulingv1.PriorityClass:
		return priorityClassCells(o, now)
	case *corev1.LimitRange:
		// kubectl prints the timestamp itself (RFC 3339), not an age.
		return []interface{}{o.Name, o.CreationTimestamp.UTC().Format(time.RFC3339)}
	case *autoscalingv2.HorizontalPodAutoscaler:
		return hpaCells(o, now)
	case *coordinationv1.Lease:
		return []interface{}{o.Name, leaseHolder(o), age(o.CreationTimestamp, now)}
	case *rbacv1.Role:
		return createdAtCells(o.ObjectMeta)
	case *rbacv1.ClusterRole:
		return createdAtCells(o.ObjectMeta)
	case *rbacv1.RoleBinding:
		return bindingCells(o.ObjectMeta, o.RoleRef, o.Subjects, now)
	case *rbacv1.ClusterRoleBinding:
		return bindingCells(o.ObjectMeta, o.RoleRef, o.Subjects, now)
	case *networkingv1.Ingress:
		return ingressCells(o, now)
	case *networkingv1.IngressClass:
		return ingressClassCells(o, now)
	case *networkingv1.NetworkPolicy:
		return networkPolicyCells(o, now)
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return []interface{}{"<unknown>", "<unknown>"}
	}
	return []interface{}{m.GetName(), age(m.GetCreationTimestamp(), now)}
}

func leaseHolder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// age formats the time since t as kubectl does ("5m", "2d3h"); "<unknown>" when unset.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// orNone is kubectl's placeholder for an empty cell.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func containersAndImages(cs []corev1.Container) (string, string) {
	names := make([]string, len(cs))
	images := make([]string, len(cs))
	for i, c := range cs {
		names[i], images[i] = c.Name, c.Image
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func replicaSetCells(rs *appsv1.ReplicaSet, now time.Time) []interface{} {
	desired := int64(0)
	if rs.Spec.Replicas != nil {
		desired = int64(*rs.Spec.Replicas)
	}
	names, images := containersAndImages(rs.Spec.Template.Spec.Containers)
	return []interface{}{
		rs.Name, desired, int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas), age(rs.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

func deploymentCells(d *appsv1.Deployment, now time.Time) []interface{} {
	desired := int32(0)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	names, images := containersAndImages(d.Spec.Template.Spec.Containers)
	return []interface{}{
		d.Name, itoa(int64(d.Status.ReadyReplicas)) + "/" + itoa(int64(desired)),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(d.Spec.Selector),
	}
}
