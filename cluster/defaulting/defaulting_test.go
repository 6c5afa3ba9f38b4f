package defaulting

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

func decode[T any](t *testing.T, doc string) *T {
	t.Helper()
	var obj T
	if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &obj
}

// The seed's echo pod (with apiVersion spelled right) must end up with what
// `kubectl get pod echo -o yaml` shows on a real cluster (minus the service account parts).
func TestSeedEchoPod(t *testing.T) {
	pod := decode[corev1.Pod](t, `
apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`)
	Default(pod)
	Admit(pod)
	want := decode[corev1.Pod](t, `
apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  containers:
  - image: ghcr.io/subicura/echo:v1
    imagePullPolicy: IfNotPresent
    name: app
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
  tolerations:
  - effect: NoExecute
    key: node.kubernetes.io/not-ready
    operator: Exists
    tolerationSeconds: 300
  - effect: NoExecute
    key: node.kubernetes.io/unreachable
    operator: Exists
    tolerationSeconds: 300
status:
  phase: Pending
  qosClass: BestEffort
`)
	if !equality.Semantic.DeepEqual(pod, want) {
		got, _ := yaml.Marshal(pod)
		t.Fatalf("defaulted pod differs from a real cluster's:\n%s", got)
	}
	// Defaulting twice changes nothing.
	again := pod.DeepCopy()
	Default(again)
	if !equality.Semantic.DeepEqual(pod, again) {
		t.Fatalf("Default is not idempotent")
	}
}

func TestSeedProbePod(t *testing.T) {
	pod := decode[corev1.Pod](t, `
apiVersion: v1
kind: Pod
metadata:
  name: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
      livenessProbe:
        httpGet:
          path: /
          port: 3000
        initialDelaySeconds: 5
        timeoutSeconds: 2
        periodSeconds: 5
        failureThreshold: 1
      readinessProbe:
        httpGet:
          port: 3000
`)
	Default(pod)
	c := pod.Spec.Containers[0]
	wantLive := corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000), Scheme: corev1.URISchemeHTTP}},
		InitialDelaySeconds: 5, TimeoutSeconds: 2, PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 1,
	}
	if !equality.Semantic.DeepEqual(*c.LivenessProbe, wantLive) {
		t.Errorf("liveness = %+v, want %+v", *c.LivenessProbe, wantLive)
	}
	wantReady := corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000), Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
	}
	if !equality.Semantic.DeepEqual(*c.ReadinessProbe, wantReady) {
		t.Errorf("readiness = %+v, want %+v", *c.ReadinessProbe, wantReady)
	}
}

func TestImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"redis":                                 corev1.PullAlways,
		"redis:latest":                          corev1.PullAlways,
		"ghcr.io/subicura/counter:latest":       corev1.PullAlways,
		"ghcr.io/subicura/echo:v1":              corev1.PullIfNotPresent,
		"localhost:5000/echo":                   corev1.PullAlways,
		"localhost:5000/echo:v2":                corev1.PullIfNotPresent,
		"busybox@sha256:" + sixtyFourHex:        corev1.PullIfNotPresent,
		"busybox:latest@sha256:" + sixtyFourHex: corev1.PullAlways,
		"docker.io/library/nginx:1.27":          corev1.PullIfNotPresent,
		"":                                      corev1.PullIfNotPresent,
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
		Default(pod)
		if got := pod.Spec.Containers[0].ImagePullPolicy; got != want {
			t.Errorf("image %q: imagePullPolicy %s, want %s", image, got, want)
		}
	}
	// An explicit policy is kept.
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "redis", ImagePullPolicy: corev1.PullNever}}}}
	Default(pod)
	if got := pod.Spec.Containers[0].ImagePullPolicy; got != corev1.PullNever {
		t.Errorf("explicit Never overwritten with %s", got)
	}
}

const sixtyFourHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPodDetails(t *testing.T) {
	pod := decode[corev1.Pod](t, `
spec:
  restartPolicy: Never
  hostNetwork: true
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: init
    image: busybox:1.36
  containers:
  - name: app
    image: nginx:1.27
    ports:
    - containerPort: 80
    - containerPort: 53
      protocol: UDP
    env:
    - name: NODE
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    resources:
      limits:
        cpu: 500m
        memory: 64Mi
  volumes:
  - name: scratch
  - name: cfg
    configMap:
      name: cfg
  - name: host
    hostPath:
      path: /tmp
`)
	Default(pod)
	s := pod.Spec
	if s.RestartPolicy != corev1.RestartPolicyNever || *s.TerminationGracePeriodSeconds != 5 {
		t.Errorf("explicit values overwritten: %s %d", s.RestartPolicy, *s.TerminationGracePeriodSeconds)
	}
	if s.InitContainers[0].TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("init container not defaulted")
	}
	c := s.Containers[0]
	if c.Ports[0].Protocol != corev1.ProtocolTCP || c.Ports[1].Protocol != corev1.ProtocolUDP {
		t.Errorf("port protocols = %s, %s", c.Ports[0].Protocol, c.Ports[1].Protocol)
	}
	if c.Ports[0].HostPort != 80 {
		t.Errorf("hostNetwork pod: hostPort = %d, want 80", c.Ports[0].HostPort)
	}
	if c.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion = %q", c.Env[0].ValueFrom.FieldRef.APIVersion)
	}
	if !c.Resources.Requests.Cpu().Equal(resource.MustParse("500m")) || !c.Resources.Requests.Memory().Equal(resource.MustParse("64Mi")) {
		t.Errorf("requests not defaulted from limits: %v", c.Resources.Requests)
	}
	// The init container has no limits, so the pod is not Guaranteed (as in kubelet's GetPodQOS).
	if pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %s, want Burstable", pod.Status.QOSClass)
	}
	if s.Volumes[0].EmptyDir == nil {
		t.Errorf("source-less volume is not an emptyDir")
	}
	if m := s.Volumes[1].ConfigMap.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("configMap defaultMode = %v, want 420", m)
	}
	if typ := s.Volumes[2].HostPath.Type; typ == nil || *typ != corev1.HostPathUnset {
		t.Errorf("hostPath type = %v", typ)
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req)}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim)}
		}
		return r
	}
	for name, tc := range map[string]struct {
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		"none":        {corev1.ResourceRequirements{}, corev1.PodQOSBestEffort},
		"request":     {res("100m", ""), corev1.PodQOSBurstable},
		"cpu limit":   {res("", "1"), corev1.PodQOSBurstable}, // memory has no limit
		"cpu and mem": {corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}}, corev1.PodQOSGuaranteed},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x:1", Resources: tc.r}}}}
		Default(pod)
		if pod.Status.QOSClass != tc.want {
			t.Errorf("%s: qosClass %s, want %s", name, pod.Status.QOSClass, tc.want)
		}
	}
	// Init containers count too: a guaranteed app container beside a request-only init
	// container makes the pod burstable.
	both := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i", Resources: res("100m", "")}},
		Containers:     []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: both, Requests: both}}},
	}
	if got := QOSClass(spec); got != corev1.PodQOSBurstable {
		t.Errorf("init container with a request only: %s, want Burstable", got)
	}
	spec.InitContainers[0].Resources = corev1.ResourceRequirements{Limits: both}
	if got := QOSClass(spec); got != corev1.PodQOSGuaranteed {
		t.Errorf("init container with equal limits: %s, want Guaranteed", got)
	}
	// Every pod create asks: the answer costs no allocation.
	if n := testing.AllocsPerRun(100, func() { QOSClass(spec) }); n != 0 {
		t.Errorf("QOSClass allocates %v times", n)
	}
}

func TestService(t *testing.T) {
	svc := decode[corev1.Service](t, `
metadata:
  name: echo
spec:
  selector:
    app: echo
  ports:
  - port: 80
  - name: named
    port: 81
    targetPort: http
`)
	Default(svc)
	want := decode[corev1.Service](t, `
metadata:
  name: echo
spec:
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - port: 80
    protocol: TCP
    targetPort: 80
  - name: named
    port: 81
    protocol: TCP
    targetPort: http
  selector:
    app: echo
  sessionAffinity: None
  type: ClusterIP
`)
	if !equality.Semantic.DeepEqual(svc, want) {
		got, _ := yaml.Marshal(svc)
		t.Fatalf("defaulted service:\n%s", got)
	}

	np := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", SessionAffinity: corev1.ServiceAffinityClientIP}}
	Default(np)
	if np.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("NodePort externalTrafficPolicy = %q", np.Spec.ExternalTrafficPolicy)
	}
	if got := np.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds; *got != 10800 {
		t.Errorf("ClientIP timeout = %d", *got)
	}
	if len(np.Spec.ClusterIPs) != 1 || np.Spec.ClusterIPs[0] != "10.96.0.10" {
		t.Errorf("clusterIPs = %v", np.Spec.ClusterIPs)
	}

	headless := &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}
	Default(headless)
	if *headless.Spec.IPFamilyPolicy != corev1.IPFamilyPolicyRequireDualStack || len(headless.Spec.IPFamilies) != 2 {
		t.Errorf("selectorless headless service: %s %v", *headless.Spec.IPFamilyPolicy, headless.Spec.IPFamilies)
	}
	headlessSel := &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"}}}
	Default(headlessSel)
	if *headlessSel.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || len(headlessSel.Spec.IPFamilies) != 1 {
		t.Errorf("headless service with selector: %s %v", *headlessSel.Spec.IPFamilyPolicy, headlessSel.Spec.IPFamilies)
	}

	ext := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}
	Default(ext)
	if ext.Spec.IPFamilyPolicy != nil || ext.Spec.InternalTrafficPolicy != nil {
		t.Errorf("ExternalName service got IP defaults")
	}
}

func TestDeployment(t *testing.T) {
	d := decode[appsv1.Deployment](t, `
metadata:
  name: echo
spec:
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: app
        image: ghcr.io/subicura/echo:v1
`)
	Default(d)
	want := decode[appsv1.Deployment](t, `
metadata:
  name: echo
spec:
  progressDeadlineSeconds: 600
  replicas: 1
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: echo
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - image: ghcr.io/subicura/echo:v1
        imagePullPolicy: IfNotPresent
        name: app
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`)
	if !equality.Semantic.DeepEqual(d, want) {
		got, _ := yaml.Marshal(d)
		t.Fatalf("defaulted deployment:\n%s", got)
	}

	// Recreate gets no rollingUpdate block; explicit replicas 0 stays 0.
	r := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(0)), Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	Default(r)
	if r.Spec.Strategy.RollingUpdate != nil || *r.Spec.Replicas != 0 {
		t.Errorf("Recreate deployment: rollingUpdate %v, replicas %d", r.Spec.Strategy.RollingUpdate, *r.Spec.Replicas)
	}
}

func TestReplicaSet(t *testing.T) {
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "redis"}}}}}}
	Default(rs)
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicas = %d", *rs.Spec.Replicas)
	}
	ts := rs.Spec.Template.Spec
	if ts.RestartPolicy != corev1.RestartPolicyAlways || ts.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("template not defaulted: %s %s", ts.RestartPolicy, ts.Containers[0].ImagePullPolicy)
	}
	// Pod-level (not PodSpec-level) defaults stay off templates, as on a real cluster.
	if ts.EnableServiceLinks != nil || ts.Priority != nil || len(ts.Tolerations) != 0 {
		t.Errorf("template got pod-only defaults: %+v", ts)
	}
}

func TestNamespaceNodeEndpoints(t *testing.T) {
	ns := &corev1.Namespace{}
	ns.Name = "dev"
	Default(ns)
	if ns.Labels[NamespaceNameLabel] != "dev" || ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace: labels %v phase %s", ns.Labels, ns.Status.Phase)
	}
	if len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Errorf("namespace finalizers = %v", ns.Spec.Finalizers)
	}

	node := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}}
	Default(node)
	if node.Status.Allocatable.Pods().Value() != 110 {
		t.Errorf("node allocatable = %v", node.Status.Allocatable)
	}

	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	Default(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("endpoints port protocol = %q", ep.Subsets[0].Ports[0].Protocol)
	}

	es := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}}}
	Default(es)
	if p := es.Ports[0]; p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP || p.Name == nil || *p.Name != "" {
		t.Errorf("endpointslice port = %+v", p)
	}
}

func TestDropTypeDependentFields(t *testing.T) {
	old := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.9",
		Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}
	Default(old)

	toClusterIP := old.DeepCopy()
	toClusterIP.Spec.Type = corev1.ServiceTypeClusterIP
	DropTypeDependentFields(toClusterIP, old)
	Default(toClusterIP)
	if toClusterIP.Spec.Ports[0].NodePort != 0 || toClusterIP.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("NodePort -> ClusterIP kept %d %q", toClusterIP.Spec.Ports[0].NodePort, toClusterIP.Spec.ExternalTrafficPolicy)
	}
	if toClusterIP.Spec.ClusterIP != "10.96.0.9" {
		t.Errorf("NodePort -> ClusterIP lost its cluster IP")
	}

	toExternal := old.DeepCopy()
	toExternal.Spec.Type = corev1.ServiceTypeExternalName
	toExternal.Spec.ExternalName = "example.com"
	DropTypeDependentFields(toExternal, old)
	Default(toExternal)
	if toExternal.Spec.ClusterIP != "" || toExternal.Spec.ClusterIPs != nil || toExternal.Spec.IPFamilies != nil || toExternal.Spec.IPFamilyPolicy != nil {
		t.Errorf("-> ExternalName kept IP fields: %+v", toExternal.Spec)
	}

	// A node port the user changed in the same update is not silently dropped.
	changed := old.DeepCopy()
	changed.Spec.Type = corev1.ServiceTypeClusterIP
	changed.Spec.Ports[0].NodePort = 30081
	DropTypeDependentFields(changed, old)
	if changed.Spec.Ports[0].NodePort != 30081 {
		t.Errorf("user's node port was dropped")
	}
}

// TestImageTag: the cached answer is the parsed one, the first time and every time after,
// also once the cache has started again.
func TestImageTag(t *testing.T) {
	cases := map[string]string{
		"nginx":                      "latest",
		"nginx:1.27":                 "1.27",
		"docker.io/library/busy:box": "box",
		"localhost:5000/app":         "latest",
		"app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":   "",
		"app:1@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "1",
		"Nginx": "", // upper case: does not parse
		"":      "",
	}
	for round := 0; round < 2; round++ {
		for image, want := range cases {
			if got := ImageTag(image); got != want {
				t.Errorf("round %d: ImageTag(%q) = %q, want %q", round, image, got, want)
			}
		}
	}
	for i := 0; i <= tagCacheSize; i++ {
		ImageTag(fmt.Sprintf("img%d:v", i))
	}
	if got := ImageTag("nginx:1.27"); got != "1.27" {
		t.Errorf("after the cache started again: %q", got)
	}
}
