// Package defaulting fills in the fields Kubernetes fills in when an object is created or
// updated (restartPolicy, protocol TCP, probe timings, RollingUpdate 25%/25%, ...).
//
// The rules follow kube-apiserver's pkg/apis/core/v1/defaults.go, apps/v1/defaults.go and
// discovery/v1/defaults.go, plus the few fields that real clusters fill in through admission
// plugins and registry strategies and that learners see in `kubectl get -o yaml` (pod
// priority, the not-ready/unreachable tolerations, status.phase Pending, qosClass,
// a Service's ipFamilies). Every rule only fills a field that is unset, so Default is
// idempotent and safe to run on updates too.
package defaulting

import (
	"sync"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Values Kubernetes uses; exported so other packages (the API server, tests) agree on them.
const (
	DefaultSchedulerName                 = corev1.DefaultSchedulerName // "default-scheduler"
	DefaultTerminationGracePeriodSeconds = int64(corev1.DefaultTerminationGracePeriodSeconds)
	DefaultTerminationMessagePath        = corev1.TerminationMessagePathDefault           // "/dev/termination-log"
	DefaultVolumeMode                    = int32(corev1.ConfigMapVolumeSourceDefaultMode) // 0644
	DefaultRevisionHistoryLimit          = int32(10)
	DefaultProgressDeadlineSeconds       = int32(600)
	DefaultSessionAffinityTimeoutSeconds = int32(corev1.DefaultClientIPServiceAffinitySeconds)
	// DefaultTolerationSeconds is what the DefaultTolerationSeconds admission plugin puts on
	// the not-ready and unreachable tolerations of every pod.
	DefaultTolerationSeconds = int64(300)
	// NamespaceNameLabel is the label every namespace carries with its own name.
	NamespaceNameLabel = corev1.LabelMetadataName // "kubernetes.io/metadata.name"
)

// Default sets defaults on obj in place. obj is a typed object from k8s.io/api
// (*corev1.Pod, *appsv1.Deployment, ...); unknown types are left alone.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		defaultPod(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		defaultHPA(o)
	case *corev1.Service:
		defaultService(o)
	case *corev1.Namespace:
		defaultNamespace(o)
	case *corev1.Node:
		defaultNode(o)
	case *corev1.Endpoints:
		defaultEndpoints(o)
	case *corev1.Event, *corev1.ConfigMap:
		// Kubernetes defaults nothing on these.
	case *corev1.Secret:
		defaultSecret(o)
	case *corev1.PodTemplate:
		defaultPodTemplateSpec(&o.Template)
	case *appsv1.ReplicaSet:
		defaultReplicaSet(o)
	case *corev1.ReplicationController:
		defaultReplicationController(o)
	case *appsv1.Deployment:
		defaultDeployment(o)
	case *discoveryv1.EndpointSlice:
		defaultEndpointSlice(o)
	case *appsv1.StatefulSet:
		defaultStatefulSet(o)
	case *appsv1.DaemonSet:
		defaultDaemonSet(o)
	case *batchv1.Job:
		defaultJob(o)
	case *batchv1.CronJob:
		defaultCronJob(o)
	case *corev1.PersistentVolume:
		defaultPersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		defaultPersistentVolumeClaim(o)
	case *storagev1.StorageClass:
		defaultStorageClass(o)
	case *networkingv1.NetworkPolicy:
		defaultNetworkPolicy(o)
	case *networkingv1.IngressClass:
		defaultIngressClass(o)
	case *corev1.LimitRange:
		defaultLimitRange(o)
	case *schedulingv1.PriorityClass:
		defaultPriorityClass(o)
	case *rbacv1.RoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	}
}

// defaultBinding: roleRef and User and Group subjects are in rbac.authorization.k8s.io
// unless they say otherwise (rbac/v1 defaults.go).
func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

// defaultSecret merges stringData into data, as kube-apiserver's conversion does on every
// write (stringData wins on a shared key and is never stored), and sets type Opaque.
func defaultSecret(s *corev1.Secret) {
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
}

// Admit sets what kube-apiserver's mutating admission plugins set on a pod after
// defaulting, on create and update: Priority (no priorityClassName means priority 0,
// preempting lower ones) and DefaultTolerationSeconds (evict from a lost node after five
// minutes). Apart from Default because the API server records the writer's managedFields
// between the two: admission's fields are nobody's, as on kube-apiserver.
func Admit(obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.Priority == nil && pod.Spec.PriorityClassName == "" {
		pod.Spec.Priority = ptr(int32(0))
	}
	if pod.Spec.PreemptionPolicy == nil {
		pod.Spec.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	}
	addTolerationIfMissing(&pod.Spec, corev1.TaintNodeNotReady)
	addTolerationIfMissing(&pod.Spec, corev1.TaintNodeUnreachable)
}

func defaultPod(pod *corev1.Pod) {
	defaultPodSpec(&pod.Spec)

	// SetDefaults_Pod: requests default to limits for resources that only have a limit.
	for i := range pod.Spec.InitContainers {
		defaultRequestsFromLimits(&pod.Spec.InitContainers[i].Resources)
	}
	for i := range pod.Spec.Containers {
		defaultRequestsFromLimits(&pod.Spec.Containers[i].Resources)
	}
	if pod.Spec.EnableServiceLinks == nil {
		pod.Spec.EnableServiceLinks = ptr(corev1.DefaultEnableServiceLinks)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		// A negative grace period is stored as 1 (kube's Pod conversion), for pods only.
		pod.Spec.TerminationGracePeriodSeconds = ptr(int64(1))
	}
	if pod.Spec.HostNetwork {
		// With the host's network a container port is a host port.
		defaultHostNetworkPorts(pod.Spec.InitContainers)
		defaultHostNetworkPorts(pod.Spec.Containers)
	}

	// The pod strategy's PrepareForCreate: a new pod is Pending until a kubelet reports.
	if pod.Status.Phase == "" {
		pod.Status.Phase = corev1.PodPending
	}
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = QOSClass(&pod.Spec)
	}
}

// defaultPodTemplateSpec applies what the generated defaulters apply to a template inside a
// ReplicaSet or Deployment: the PodSpec defaults, but not the Pod-level ones (no
// enableServiceLinks, no requests from limits, no admission fields).
func defaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	defaultPodSpec(&t.Spec)
}

func defaultPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptr(DefaultTerminationGracePeriodSeconds)
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	// serviceAccount is the old name of serviceAccountName; kube-apiserver keeps both equal.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		defaultContainer(&c)
		spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		if ImageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		defaultLifecycleHandler(c.Lifecycle.PostStart)
		defaultLifecycleHandler(c.Lifecycle.PreStop)
	}
}

// ImageTag returns the tag an image reference resolves to, as kubelet's
// parsers.ParseImageName does: "latest" when there is neither a tag nor a digest, "" when
// there is only a digest or the reference does not parse (then imagePullPolicy defaults to
// IfNotPresent, and validation or the pull reports the bad name).
func ImageTag(image string) string {
	if tag, ok := imageTags.get(image); ok {
		return tag
	}
	tag := parseImageTag(image)
	imageTags.put(image, tag)
	return tag
}

// imageTags remembers ImageTag's answers: the reference grammar's regular expressions
// were a fiftieth of a pod create's CPU, and a cluster runs few distinct images. Bounded:
// it starts again when full.
var imageTags tagCache

type tagCache struct {
	mu sync.Mutex
	m  map[string]string
}

const tagCacheSize = 1024

func (c *tagCache) get(image string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tag, ok := c.m[image]
	return tag, ok
}

func (c *tagCache) put(image, tag string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tagCacheSize {
		c.m = make(map[string]string)
	}
	c.m[image] = tag
}

func parseImageTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	if tagged, ok := named.(reference.Tagged); ok {
		return tagged.Tag()
	}
	if _, ok := named.(reference.Digested); ok {
		return ""
	}
	return "latest"
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptr("")
	}
}

func defaultLifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultVolume(v *corev1.Volume) {
	s := &v.VolumeSource
	// A volume with no source at all is an emptyDir, as in SetDefaults_Volume.
	if *s == (corev1.VolumeSource{}) {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if s.ConfigMap != nil && s.ConfigMap.DefaultMode == nil {
		s.ConfigMap.DefaultMode = ptr(DefaultVolumeMode)
	}
	if s.Secret != nil && s.Secret.DefaultMode == nil {
		s.Secret.DefaultMode = ptr(DefaultVolumeMode)
	}
	if s.DownwardAPI != nil {
		if s.DownwardAPI.DefaultMode == nil {
			s.DownwardAPI.DefaultMode = ptr(DefaultVolumeMode)
		}
		for i := range s.DownwardAPI.Items {
			if f := s.DownwardAPI.Items[i].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = "v1"
			}
		}
	}
	if s.Projected != nil {
		defaultProjected(s.Projected)
	}
	if s.HostPath != nil && s.HostPath.Type == nil {
		s.HostPath.Type = ptr(corev1.HostPathUnset)
	}
}

func defaultRequestsFromLimits(r *corev1.ResourceRequirements) {
	if len(r.Limits) == 0 {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

func defaultHostNetworkPorts(cs []corev1.Container) {
	for i := range cs {
		for j := range cs[i].Ports {
			if cs[i].Ports[j].HostPort == 0 {
				cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
			}
		}
	}
}

func addTolerationIfMissing(spec *corev1.PodSpec, key string) {
	for _, t := range spec.Tolerations {
		// Any toleration of the key (or a wildcard toleration) is the user's choice.
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
		Key:               key,
		Operator:          corev1.TolerationOpExists,
		Effect:            corev1.TaintEffectNoExecute,
		TolerationSeconds: ptr(DefaultTolerationSeconds),
	})
}

// QOSClass computes a pod's quality-of-service class as kubelet's qos.GetPodQOS does:
// BestEffort without any cpu/memory request or limit, Guaranteed when every container
// has equal cpu and memory requests and limits, Burstable otherwise.
func QOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	// Arrays and no copy of the containers: every pod create asks (it was a twelfth of
	// what defaulting a pod allocated).
	names := [2]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	var requests, limits [2]bool
	guaranteed := true
	for _, cs := range [2][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			c := &cs[i]
			for n, name := range names {
				req, hasReq := c.Resources.Requests[name]
				lim, hasLim := c.Resources.Limits[name]
				if hasReq && !req.IsZero() {
					requests[n] = true
				}
				if hasLim && !lim.IsZero() {
					limits[n] = true
				}
				if !hasLim || lim.IsZero() {
					guaranteed = false
				} else if hasReq && req.Cmp(lim) != 0 {
					guaranteed = false
				}
			}
		}
	}
	if requests == [2]bool{} && limits == [2]bool{} {
		return corev1.PodQOSBestEffort
	}
	if guaranteed && limits == [2]bool{true, true} {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func defaultService(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if spec.SessionAffinityConfig == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP == nil {
			spec.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = ptr(DefaultSessionAffinityTimeoutSeconds)
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	// Reachable from outside the cluster: through node ports, a load balancer or external IPs.
	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer ||
		spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0
	if external && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		spec.AllocateLoadBalancerNodePorts = ptr(true)
	}
	switch spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if spec.InternalTrafficPolicy == nil {
			spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		defaultIPFamilies(spec)
	}
	if len(spec.ClusterIPs) == 0 && spec.ClusterIP != "" {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
}

// defaultIPFamilies fills what the service registry fills on an IPv4-only cluster like
// webkube's. A headless service without a selector has no IP of its own, so its endpoints
// may be of any family: it gets RequireDualStack and both families, as in Kubernetes.
func defaultIPFamilies(spec *corev1.ServiceSpec) {
	selectorless := spec.Type == corev1.ServiceTypeClusterIP && spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0
	if spec.IPFamilyPolicy == nil {
		if selectorless {
			spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
		} else {
			spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
		}
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if selectorless && *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack && len(spec.IPFamilies) == 1 {
		other := corev1.IPv6Protocol
		if spec.IPFamilies[0] == corev1.IPv6Protocol {
			other = corev1.IPv4Protocol
		}
		spec.IPFamilies = append(spec.IPFamilies, other)
	}
}

func defaultNamespace(ns *corev1.Namespace) {
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[NamespaceNameLabel] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
	if len(ns.Spec.Finalizers) == 0 {
		// The namespace registry adds this so the namespace controller can empty it first.
		ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	}
}

func defaultNode(node *corev1.Node) {
	// SetDefaults_NodeStatus: a node that reports no allocatable offers its whole capacity.
	if node.Status.Allocatable == nil && node.Status.Capacity != nil {
		node.Status.Allocatable = node.Status.Capacity.DeepCopy()
	}
}

func defaultEndpoints(ep *corev1.Endpoints) {
	for i := range ep.Subsets {
		for j := range ep.Subsets[i].Ports {
			if ep.Subsets[i].Ports[j].Protocol == "" {
				ep.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func defaultEndpointSlice(es *discoveryv1.EndpointSlice) {
	for i := range es.Ports {
		p := &es.Ports[i]
		if p.Name == nil {
			p.Name = ptr("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr(corev1.ProtocolTCP)
		}
	}
}

func defaultReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptr(int32(1))
	}
	defaultPodTemplateSpec(&rs.Spec.Template)
}

func defaultDeployment(d *appsv1.Deployment) {
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr(int32(1))
	}
	if spec.Strategy.Type == "" {
		spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if spec.Strategy.RollingUpdate == nil {
			spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if spec.Strategy.RollingUpdate.MaxUnavailable == nil {
			spec.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("25%"))
		}
		if spec.Strategy.RollingUpdate.MaxSurge == nil {
			spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromString("25%"))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr(DefaultRevisionHistoryLimit)
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptr(DefaultProgressDeadlineSeconds)
	}
	defaultPodTemplateSpec(&spec.Template)
}

func ptr[T any](v T) *T { return &v }

// defaultProjected: mode 0644, fieldRef apiVersion v1 and tokens of an hour
// (SetDefaults_ServiceAccountTokenProjection).
func defaultProjected(p *corev1.ProjectedVolumeSource) {
	if p.DefaultMode == nil {
		p.DefaultMode = ptr(DefaultVolumeMode)
	}
	for _, src := range p.Sources {
		if t := src.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
			t.ExpirationSeconds = ptr(int64(3600))
		}
		if d := src.DownwardAPI; d != nil {
			for i := range d.Items {
				if f := d.Items[i].FieldRef; f != nil && f.APIVersion == "" {
					f.APIVersion = "v1"
				}
			}
		}
	}
}

// DropTypeDependentFields clears, on a Service update that changes its type, the values
// the old type had allocated and the new type cannot have (cluster IPs when turning into
// ExternalName, node ports when turning into ClusterIP, ...), as kube-apiserver's service
// strategy does before validating. A field the user changed in the same update is left
// for validation to judge. Call it before Default on updates.
func DropTypeDependentFields(svc, old *corev1.Service) {
	if svc == nil || old == nil {
		return
	}
	needsClusterIP := func(s *corev1.Service) bool { return s.Spec.Type != corev1.ServiceTypeExternalName }
	needsNodePort := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer
	}
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP && equalStrings(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if equalFamilies(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if (svc.Spec.IPFamilyPolicy == nil) == (old.Spec.IPFamilyPolicy == nil) &&
			(svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy == *old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
		svc.Spec.InternalTrafficPolicy = nil
	}
	if needsNodePort(old) && !needsNodePort(svc) && sameNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Spec.AllocateLoadBalancerNodePorts = nil
		svc.Spec.HealthCheckNodePort = 0
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
	if !needsNodePort(svc) {
		svc.Spec.ExternalTrafficPolicy = ""
	}
}

// sameNodePorts reports whether every port kept its node port (matched by port number).
func sameNodePorts(svc, old *corev1.Service) bool {
	oldPorts := map[int32]int32{}
	for _, p := range old.Spec.Ports {
		oldPorts[p.Port] = p.NodePort
	}
	for _, p := range svc.Spec.Ports {
		if np, ok := oldPorts[p.Port]; ok && p.NodePort != 0 && p.NodePort != np {
			return false
		}
		if _, ok := oldPorts[p.Port]; !ok && p.NodePort != 0 {
			return false
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalFamilies(a, b []corev1.IPFamily) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
